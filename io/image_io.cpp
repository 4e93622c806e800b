// The one translation unit that compiles stb_image and stb_image_write.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "io/image_io.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

Tensor load_image(const std::string& path) {
  std::error_code ec;
  // Checked first because stb's own message for a missing file is just "can't fopen".
  BL_CHECK(std::filesystem::is_regular_file(path, ec), "load_image: cannot read '", path,
           "': no such file");
  int w = 0, h = 0, channels = 0;
  // 8-bit load on purpose: stbi_loadf would apply a 2.2 gamma curve to LDR files.
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                          stbi_image_free);
  BL_CHECK(pixels, "load_image: cannot decode '", path, "' (expected PNG, JPEG or BMP): ",
           stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  Tensor t = Tensor::empty({3, h, w});
  float* out = t.data();
  const int64_t plane = static_cast<int64_t>(h) * w;
  const unsigned char* in = pixels.get();
  for (int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) out[c * plane + i] = in[i * 3 + c] / 255.0f;
  return t;
}

void write_png(const std::string& path, const Tensor& image) {
  const Shape& s = image.shape();
  const bool chw = s.rank() == 3 && (s[0] == 3 || s[0] == 1);
  BL_CHECK(chw || s.rank() == 2, "write_png: expected an image [3,H,W], [1,H,W] or [H,W] for '", path, "', got ", s);
  const int64_t c = chw ? s[0] : 1, h = s[-2], w = s[-1];
  BL_CHECK(h > 0 && w > 0, "write_png: empty image ", s, " for '", path, "'");
  std::vector<unsigned char> bytes(static_cast<size_t>(c * h * w));
  const float* in = image.data();
  const int64_t plane = h * w;
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t k = 0; k < c; ++k) {
      const float v = in[k * plane + i];
      const float clipped = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f);
      bytes[static_cast<size_t>(i * c + k)] = static_cast<unsigned char>(std::lround(clipped * 255.0f));
    }
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    BL_CHECK(!ec, "write_png: cannot create directory '", p.parent_path().string(), "': ", ec.message());
  }
  errno = 0;
  const int ok = stbi_write_png(path.c_str(), static_cast<int>(w), static_cast<int>(h), static_cast<int>(c),
                                bytes.data(), static_cast<int>(w * c));
  BL_CHECK(ok, "write_png: cannot write '", path, "'", errno ? std::string(": ") + std::strerror(errno) : "");
}

}  // namespace backlight::cli
