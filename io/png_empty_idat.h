#pragma once
/// Empty IDAT chunks removed from a PNG before stb_image sees it. A zero-length IDAT is legal (the
/// image data may be split into chunks of any size), but stb_image 2.27 (Debian 12's libstb-dev)
/// then copies 0 bytes into its still-null data buffer: memcpy(nullptr, src, 0), undefined
/// behaviour that UBSan reports (found by tools/fuzz/fuzz_image). Dropping empty IDAT chunks
/// changes no pixel: they carry no data.
#include <optional>
#include <span>
#include <string>

namespace backlight::cli {

/// The PNG without its zero-length IDAT chunks, or nullopt when `bytes` is not a PNG or has none
/// (then decode the bytes as they are). An empty IDAT is dropped even when its CRC is cut off;
/// other malformed or truncated chunks end the walk: the rest is kept
/// as it is, for the decoder to report.
std::optional<std::string> without_empty_idat(std::span<const unsigned char> bytes);

}  // namespace backlight::cli
