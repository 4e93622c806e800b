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
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "engine/error.h"
#include "io/atomic_write.h"
#include "io/file_checks.h"
#include "io/jpeg_check.h"
#include "io/png_empty_idat.h"

namespace backlight::cli {

Tensor decode_image(std::span<const unsigned char> bytes, const std::string& name, int64_t max_pixels) {
  if (const std::optional<std::string> cleaned = without_empty_idat(bytes))  // stb 2.27's memcpy(nullptr, _, 0)
    return decode_image(std::span(reinterpret_cast<const unsigned char*>(cleaned->data()), cleaned->size()), name,
                        max_pixels);
  BL_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), "load_image: '", name, "' is ", bytes.size(),
           " bytes, more than the decoder reads (2 GiB)");
  const int len = static_cast<int>(bytes.size());
  const std::string bad_table = bad_jpeg_huffman_table(bytes);
  BL_CHECK(bad_table.empty(), "load_image: cannot decode '", name, "' (corrupt JPEG): ", bad_table);
  int w = 0, h = 0, channels = 0;
  // Header only: the claimed size is checked before stb allocates w * h * 3 bytes.
  BL_CHECK(stbi_info_from_memory(bytes.data(), len, &w, &h, &channels), "load_image: cannot decode '", name,
           "' (expected PNG, JPEG or BMP): ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  const int64_t pixels = static_cast<int64_t>(w) * h;
  BL_CHECK(w > 0 && h > 0, "load_image: '", name, "' claims an empty size ", w, "x", h);
  BL_CHECK(pixels <= max_pixels, "load_image: '", name, "' is ", w, "x", h, " (", pixels,
           " pixels), more than the limit of ", max_pixels, " decoded pixels (--max-pixels N raises it)");
  // 8-bit load on purpose: stbi_loadf would apply a 2.2 gamma curve to LDR files.
  std::unique_ptr<unsigned char, void (*)(void*)> px(stbi_load_from_memory(bytes.data(), len, &w, &h, &channels, 3),
                                                     stbi_image_free);
  BL_CHECK(px, "load_image: cannot decode '", name, "' (expected PNG, JPEG or BMP): ",
           stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  // The decoder re-reads the header; a size that differs from the one checked is corrupt data.
  BL_CHECK(static_cast<int64_t>(w) * h == pixels && w > 0, "load_image: '", name,
           "': the decoded size differs from the header's");
  Tensor t = Tensor::empty({3, h, w});
  float* out = t.data();
  const unsigned char* in = px.get();
  for (int64_t i = 0; i < pixels; ++i)
    for (int c = 0; c < 3; ++c) out[c * pixels + i] = in[i * 3 + c] / 255.0f;
  return t;
}

Tensor load_image(const std::string& path, int64_t max_pixels) {
  const std::string bytes = read_file(path, "load_image");
  return decode_image({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, path, max_pixels);
}

std::optional<ImageFormat> image_format_for(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png") return ImageFormat::Png;
  if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::Jpeg;
  if (ext == ".bmp") return ImageFormat::Bmp;
  return std::nullopt;
}

std::string writable_image_extensions() { return "PNG (.png), JPEG (.jpg, .jpeg), BMP (.bmp)"; }

std::string encode_image(const Tensor& image, ImageFormat format, const std::string& name) {
  const Shape& s = image.shape();
  const bool chw = s.rank() == 3 && (s[0] == 3 || s[0] == 1);
  BL_CHECK(chw || s.rank() == 2, "write_image: expected an image [3,H,W], [1,H,W] or [H,W] for '", name, "', got ", s);
  const int64_t c = chw ? s[0] : 1, h = s[-2], w = s[-1];
  BL_CHECK(h > 0 && w > 0 && h <= INT_MAX / 4 && w <= INT_MAX / (4 * c), "write_image: cannot encode an image ", s,
           " for '", name, "'");
  std::vector<unsigned char> bytes(static_cast<size_t>(c * h * w));
  const float* in = image.data();
  const int64_t plane = h * w;
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t k = 0; k < c; ++k) {
      const float v = in[k * plane + i];
      const float clipped = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f);
      bytes[static_cast<size_t>(i * c + k)] = static_cast<unsigned char>(std::lround(clipped * 255.0f));
    }
  std::string out;
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  const int iw = static_cast<int>(w), ih = static_cast<int>(h), ic = static_cast<int>(c);
  int ok = 0;
  switch (format) {
    case ImageFormat::Png: ok = stbi_write_png_to_func(append, &out, iw, ih, ic, bytes.data(), iw * ic); break;
    case ImageFormat::Jpeg: ok = stbi_write_jpg_to_func(append, &out, iw, ih, ic, bytes.data(), 95); break;
    case ImageFormat::Bmp: ok = stbi_write_bmp_to_func(append, &out, iw, ih, ic, bytes.data()); break;
  }
  BL_CHECK(ok && !out.empty(), "write_image: encoding '", name, "' failed");
  return out;
}

void write_image(const std::string& path, const Tensor& image) {
  const std::optional<ImageFormat> format = image_format_for(path);
  BL_CHECK(format, "write_image: cannot tell the format of '", path, "' from its extension (accepted: ",
           writable_image_extensions(), ")");
  write_file_atomic(path, encode_image(image, *format, path));
}

}  // namespace backlight::cli
