#include "tools/cli/image_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "engine/error.h"

namespace backlight::cli {

namespace fs = std::filesystem;

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  BL_CHECK(fs::is_directory(dir, ec), "list_images: '", dir, "' is not a folder (--images expects a folder of images)");
  std::vector<std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (has_image_extension(e.path().string())) out.push_back(e.path().string());
  BL_CHECK(!ec, "list_images: cannot read folder '", dir, "': ", ec.message());
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return fs::path(a).filename().string() < fs::path(b).filename().string();
  });
  return out;
}

std::vector<std::string> output_stems(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  std::set<std::string> used;
  for (const std::string& p : paths) {
    std::string stem = fs::path(p).stem().string();
    if (stem.empty()) stem = "image";
    std::string name = stem;
    for (int k = 2; used.count(name); ++k) name = stem + "-" + std::to_string(k);
    used.insert(name);
    out.push_back(name);
  }
  return out;
}

}  // namespace backlight::cli
