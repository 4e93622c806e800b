#pragma once
/// Image files for the CLI: load PNG/JPEG/BMP (stb_image) into float tensors and write PNG, JPEG
/// or BMP by the file's extension (stb_image_write). Images are CHW float32 with values in [0,1],
/// RGB channel order. No resizing happens here: a 300x200 file becomes a [3,200,300] tensor.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "engine/tensor.h"

namespace backlight::cli {

/// Default cap on the pixels of one decoded image (width x height), 50 megapixels: a 3-channel
/// float tensor of that size is 600 MB. `explain --max-pixels N` raises it.
inline constexpr int64_t kDefaultMaxPixels = 50'000'000;

/// Decodes an 8- or 16-bit PNG, JPEG or BMP held in memory -> [3,H,W] in [0,1] (grey and alpha
/// images are converted to RGB; alpha is dropped). The header is read first (stbi_info): an
/// image of more than `max_pixels` pixels (width x height) is refused before any pixel is
/// decoded. Throws backlight::Error naming `name`, and for the cap its claimed size and the limit.
Tensor decode_image(std::span<const unsigned char> bytes, const std::string& name,
                    int64_t max_pixels = kDefaultMaxPixels);

/// Reads and decodes a file (decode_image). Throws backlight::Error naming the path and the
/// reason (missing file, a directory, a broken symbolic link, unsupported or corrupt data, too
/// many pixels).
Tensor load_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

/// Formats write_image writes, chosen by extension.
enum class ImageFormat { Png, Jpeg, Bmp };

/// The format of `path`'s extension: .png, .jpg/.jpeg, .bmp (any letter case); nullopt otherwise.
std::optional<ImageFormat> image_format_for(const std::string& path);

/// "PNG (.png), JPEG (.jpg, .jpeg), BMP (.bmp)": for messages listing what write_image accepts.
std::string writable_image_extensions();

/// The encoded file: 8-bit from [3,H,W] (RGB), [1,H,W] or [H,W] (grey) values clipped to [0,1]
/// and rounded (NaN -> 0). JPEG at quality 95. Throws naming `name` when the shape is wrong.
std::string encode_image(const Tensor& image, ImageFormat format, const std::string& name);

/// Writes `image` (encode_image) in the format of `path`'s extension, all or nothing
/// (atomic_write.h); creates missing parent directories. Throws backlight::Error naming the path
/// for an unknown extension, a wrong shape, or a failed write (with the errno text).
void write_image(const std::string& path, const Tensor& image);

/// write_image, kept for callers that write .png files.
inline void write_png(const std::string& path, const Tensor& image) { write_image(path, image); }

}  // namespace backlight::cli
