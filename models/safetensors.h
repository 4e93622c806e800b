#pragma once
/// safetensors: the tensor file format of the PyTorch / Hugging Face ecosystem
/// (https://github.com/huggingface/safetensors), read and written without Python.
///
/// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
///   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
/// then the raw little-endian tensor bytes; offsets are relative to the start of that data section.
///
/// Reading memory-maps the file (opened read-only; the mapping is private, so writing into a
/// returned tensor copies the touched page and never changes the file). F32 tensors whose data is
/// 4-byte aligned are zero-copy views: their storage keeps the mapping alive, so the returned
/// tensors stay valid after the SafeTensorsFile is gone, and the mapping is released with the last
/// of them. Every other dtype is converted into fresh float32 storage:
///   F16, BF16, F64 exactly (F64 rounded to nearest float), BOOL/U8/I8/I16/U16/I32/U32/I64/U64 as
///   numbers (exact up to 2^24; PyTorch's `num_batches_tracked` is I64). F8 types are rejected.
/// A corrupt or truncated file never causes an out-of-bounds read: the header length, the JSON,
/// every dtype, shape, byte range (inside the data section, size = numel * dtype size, no two
/// ranges overlapping) and name (unique) is validated first, and each failure throws
/// backlight::Error naming the file, the tensor and what was wrong. (A file truncated by another
/// process *while* mapped can still raise SIGBUS; that is the nature of mmap.)
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

/// Header cap: a larger header is treated as corrupt (the Python library uses 100 MB as well).
inline constexpr uint64_t kSafeTensorsMaxHeader = 100'000'000;

/// The contents of one safetensors file, every tensor as float32.
struct SafeTensorsFile {
  std::string path;                                      ///< as given to read_safetensors
  std::vector<std::pair<std::string, Tensor>> tensors;   ///< in header order (= data order for files
                                                         ///< written by Python or by us)
  std::map<std::string, std::string> metadata;           ///< "__metadata__" (empty if absent)
  std::map<std::string, std::string> dtypes;             ///< name -> dtype in the file ("F16", ...)

  /// The tensor called `name`, or nullptr.
  const Tensor* find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  /// The tensor called `name`; throws naming the file, the name and a few of the names present.
  const Tensor& at(std::string_view name) const;
};

/// Reads and validates a whole file (see above). Throws backlight::Error on I/O failure or any
/// inconsistency, naming the file and, where there is one, the tensor.
SafeTensorsFile read_safetensors(const std::filesystem::path& path);

/// The same validation and decoding for a safetensors image already in memory (every tensor is
/// copied; nothing aliases `bytes`). `name` stands for the file in error messages. The fuzz target
/// (tools/fuzz/fuzz_safetensors.cpp) drives this entry point.
SafeTensorsFile parse_safetensors(std::span<const unsigned char> bytes, std::string_view name = "<memory>");

/// Storage dtype for write_safetensors.
enum class SafeTensorsDtype { F32, F16, BF16 };

struct SafeTensorsWriteOptions {
  /// F16/BF16 round to nearest even (lossy); F32 is bit-exact.
  SafeTensorsDtype dtype = SafeTensorsDtype::F32;
};

/// Writes `tensors` (names unique, non-empty, not "__metadata__") in the given order with
/// `metadata` as "__metadata__" (omitted when empty). The JSON header is padded with spaces to a
/// multiple of 8 bytes like the Python library, so every tensor's data is 8-byte aligned when
/// all are F32. The file is written to "<path>.tmp" and renamed, so readers never see half a file,
/// and tensors still mapped from an older file at `path` stay valid (load, modify, save in place).
void write_safetensors(const std::filesystem::path& path, std::span<const std::pair<std::string, Tensor>> tensors,
                       const std::map<std::string, std::string>& metadata = {}, SafeTensorsWriteOptions options = {});

}  // namespace backlight
