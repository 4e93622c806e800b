#include "io/jpeg_check.h"

#include <cstddef>
#include <cstdint>

namespace backlight::cli {

std::string bad_jpeg_huffman_table(std::span<const unsigned char> b) {
  const size_t n = b.size();
  // stb_image takes any number of 0xFF fill bytes before the start-of-image marker 0xD8.
  size_t i = 0;
  while (i < n && b[i] == 0xFF) ++i;
  if (i == 0 || i >= n || b[i] != 0xD8) return "";  // not a JPEG
  ++i;
  while (i + 1 < n) {
    // Outside a segment (entropy-coded data, fill bytes): look for the next marker. In scan data a
    // 0xFF is followed by 0x00 (stuffing) or a restart marker, never by a segment marker.
    if (b[i] != 0xFF) {
      ++i;
      continue;
    }
    const unsigned m = b[i + 1];
    if (m == 0xFF || m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
      i += m == 0xFF ? 1 : 2;
      continue;
    }
    if (m == 0xD9) return "";  // end of image
    if (i + 3 >= n) return "";
    const size_t len = (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];  // counts its own 2 bytes
    const size_t end = i + 2 + len;
    if (m == 0xC4) {
      size_t p = i + 4;
      while (p < end && p < n) {
        if (p + 17 > n || p + 17 > end) return "truncated Huffman table at byte " + std::to_string(p);
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += b[p + k];
        if (codes > 256)
          return "Huffman table at byte " + std::to_string(p) + " has " + std::to_string(codes) +
                 " codes (at most 256)";
        p += 17 + codes;
      }
    }
    i = len >= 2 ? end : i + 2;
  }
  return "";
}

}  // namespace backlight::cli
