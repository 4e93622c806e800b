// Progress: silent for short runs and when disabled; plain lines when not on a terminal.
#include <cstdio>
#include <string>

#include "attribution/core/progress.h"
#include "tests/helpers.h"

using namespace backlight;

namespace {

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  return s;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("progress: prints plain lines with rate and the final count when due; nothing when disabled or short") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    {
      Progress p("occlusion", 10, {.delay_seconds = 0, .line_interval_seconds = 0, .stream = f, .force_plain = true});
      for (int i = 0; i < 10; ++i) p.advance();
      CHECK(p.shown());
    }
    const std::string out = contents(f);
    CHECK(out.find("occlusion  1/10") != std::string::npos);
    CHECK(out.find("10/10") != std::string::npos);
    CHECK(out.find("/s") != std::string::npos);
    CHECK(out.find("done in") != std::string::npos);
    std::fclose(f);

    std::FILE* g = std::tmpfile();
    {
      Progress off("x", 5, {.enabled = false, .delay_seconds = 0, .stream = g});
      Progress short_run("y", 5, {.delay_seconds = 60, .stream = g});
      for (int i = 0; i < 5; ++i) off.advance(), short_run.advance();
      CHECK_FALSE(off.shown());
      CHECK_FALSE(short_run.shown());
    }
    CHECK(contents(g).empty());
    std::fclose(g);
  }

}  // TEST_SUITE("attribution")
