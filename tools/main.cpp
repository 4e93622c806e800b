// backlight CLI entry point (commands arrive with the CLI issue).
#include <cstdio>
int main() {
  std::puts("backlight " BACKLIGHT_VERSION);
  return 0;
}
