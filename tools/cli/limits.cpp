#include "tools/cli/limits.h"

#include <algorithm>
#include <thread>

namespace backlight::cli {

int max_threads() {
  const unsigned hw = std::thread::hardware_concurrency();  // 0 when unknown
  return 4 * static_cast<int>(std::max(1u, std::min(hw, 1u << 20)));
}

}  // namespace backlight::cli
