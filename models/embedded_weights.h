#pragma once
/// Weights compiled into the library: a safetensors file embedded as a byte array at build time
/// (cmake/EmbedFile.cmake) and parsed from memory, so no file is read at run time.
#include <cstdint>
#include <span>
#include <string>

#include "models/safetensors.h"

namespace backlight {

/// The bytes of models/weights/shapes_cnn.safetensors as embedded at build time (empty when the
/// file was missing at configure time).
std::span<const unsigned char> embedded_shapes_cnn_weights();

/// Parses a safetensors image held in memory. `name` stands in for the path in messages and in
/// the result. Only F32 tensors are accepted (what save_weights writes by default); tensors are
/// copied out, so `bytes` need not outlive the result. Throws backlight::Error naming `name` and
/// the tensor on a truncated or inconsistent image.
SafeTensorsFile read_safetensors_bytes(std::span<const unsigned char> bytes, const std::string& name);

}  // namespace backlight
