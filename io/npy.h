#pragma once
/// NumPy .npy files holding float32 arrays (and, for reading, int64/int32 token ids) (format
/// v1.0, little-endian, C order), so raw attributions open with numpy.load() and reference
/// arrays come back from Python. One header parser serves every reader below.
/// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include <cstdint>
#include <span>
#include <string>

#include "engine/tensor.h"

namespace backlight::cli {

/// The bytes of `t` (any shape, up to 8 dims) as a v1.0 .npy with dtype '<f4'. The header is
/// padded so the data starts at a multiple of 64 bytes, as numpy does.
std::string npy_bytes(const Tensor& t);

/// Writes npy_bytes(t) all or nothing (atomic_write.h). Creates missing parent directories.
/// Throws backlight::Error naming the path and the errno text when the file cannot be written.
void save_npy(const std::string& path, const Tensor& t);

/// Parses the bytes of a .npy file (load_npy's checks); `name` names it in errors. Messages
/// quote at most ~200 characters of the header.
Tensor parse_npy(std::span<const unsigned char> bytes, const std::string& name);

/// Reads a .npy written by save_npy or numpy.save(np.float32 array). Accepts format versions
/// 1.0-3.0; validates the magic, dtype '<f4', fortran_order False, the shape (<= 8 dims) and
/// that the file holds exactly shape-many values. Each failure throws backlight::Error naming the
/// path and what was expected ("expected dtype '<f4' (float32), got '<f8'"); a directory or a
/// broken symbolic link is named as such (file_checks.h).
Tensor load_npy(const std::string& path);

/// Element type of a .npy file read by load_npy_array.
enum class NpyDtype { Float32, Int64, Int32 };
std::string to_string(NpyDtype d);  ///< "float32", "int64", "int32"
/// Largest integer magnitude load_npy_array accepts: float32 holds every integer up to 2^24.
inline constexpr int64_t kNpyMaxExactInt = int64_t{1} << 24;

/// A .npy array and the dtype it was stored as.
struct NpyArray {
  Tensor values;  ///< float32; integers converted (exactly: |v| <= kNpyMaxExactInt)
  NpyDtype dtype = NpyDtype::Float32;
};
/// As load_npy, and also accepts '<i8' (int64) and '<i4' (int32) arrays, e.g. token ids for a
/// text model: the values come back as float32 (what the engine's embedding lookup reads), with
/// the stored dtype, so callers can tell ids from features. An integer outside +-2^24 throws
/// naming the file, the value and its flat index.
NpyArray load_npy_array(const std::string& path);
/// The same from bytes (`name` names them in errors).
NpyArray parse_npy_array(std::span<const unsigned char> bytes, const std::string& name);

/// Shape and data offset of a .npy file, from its header only (for reading a large stack in
/// pieces). Same checks as load_npy (float32 only), including that the file holds exactly
/// shape-many values.
struct NpyInfo {
  Shape shape;
  uint64_t data_offset = 0;
};
NpyInfo read_npy_info(const std::string& path);

/// Rows [begin, end) along the first axis of the .npy described by `info`, read from disk
/// without loading the rest (shape [end - begin, ...]).
Tensor load_npy_rows(const std::string& path, const NpyInfo& info, int64_t begin, int64_t end);

}  // namespace backlight::cli
