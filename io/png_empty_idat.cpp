#include "io/png_empty_idat.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace backlight::cli {

std::optional<std::string> without_empty_idat(std::span<const unsigned char> bytes) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(bytes.data()), 8);
  size_t pos = 8;
  bool dropped = false;
  // Each chunk: 4-byte big-endian length, 4-byte type, data, 4-byte CRC.
  while (pos + 8 <= bytes.size()) {
    const uint64_t length = (uint64_t{bytes[pos]} << 24) | (uint64_t{bytes[pos + 1]} << 16) |
                            (uint64_t{bytes[pos + 2]} << 8) | uint64_t{bytes[pos + 3]};
    if (length == 0 && std::memcmp(bytes.data() + pos + 4, "IDAT", 4) == 0) {
      // Dropped even when its CRC is cut off: stb copies the 0 bytes before it reads the CRC.
      dropped = true;
      pos = std::min(bytes.size(), pos + 12);
      continue;
    }
    // Malformed or truncated: keep the rest for the decoder to refuse.
    if (pos + 12 > bytes.size() || length > bytes.size() - pos - 12) break;
    const size_t size = static_cast<size_t>(length) + 12;
    out.append(reinterpret_cast<const char*>(bytes.data() + pos), size);
    pos += size;
  }
  if (!dropped) return std::nullopt;
  out.append(reinterpret_cast<const char*>(bytes.data() + pos), bytes.size() - pos);
  return out;
}

}  // namespace backlight::cli
