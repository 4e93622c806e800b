#pragma once
/// A pre-check of JPEG Huffman tables before stb_image sees the bytes. stb_image 2.27 (Debian 12's
/// libstb-dev) builds a table's size list without checking that its 16 code counts sum to at most
/// 256, so a DHT segment claiming more writes past `stbi__huffman::size[257]` (found by
/// tools/fuzz/fuzz_image; stb 2.28 added the check). decode_image refuses such files first.
#include <span>
#include <string>

namespace backlight::cli {

/// "" when `bytes` is not a JPEG or every DHT table in it (before, between and after scans) has
/// at most 256 codes and fits its segment; otherwise what is wrong, with the byte offset.
std::string bad_jpeg_huffman_table(std::span<const unsigned char> bytes);

}  // namespace backlight::cli
