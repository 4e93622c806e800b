#pragma once
/// Image files for the CLI: load PNG/JPEG/BMP (stb_image) into float tensors and write PNG
/// (stb_image_write). Images are CHW float32 with values in [0,1], RGB channel order. No
/// resizing happens here: a 300x200 file becomes a [3,200,300] tensor.
#include <string>

#include "engine/tensor.h"

namespace backlight::cli {

/// Reads an 8- or 16-bit PNG, JPEG or BMP file -> [3,H,W] in [0,1] (grey and alpha images are
/// converted to RGB; alpha is dropped). Throws backlight::Error naming the path and the reason
/// (missing file, unsupported or corrupt data).
Tensor load_image(const std::string& path);

/// Writes an 8-bit PNG from [3,H,W] (RGB), [1,H,W] or [H,W] (grey) values; values are clipped to
/// [0,1] and rounded. Creates missing parent directories. Throws backlight::Error naming the
/// path when the shape is wrong or the file cannot be written.
void write_png(const std::string& path, const Tensor& image);

}  // namespace backlight::cli
