#pragma once
/// IEEE binary16 ("half", safetensors F16) and bfloat16 (BF16) <-> float32 conversions.
///
/// Widening (half/bf16 -> float) is exact for every bit pattern: subnormal halves become normal
/// floats, +-0, +-inf and NaN (payload kept) map to themselves. Narrowing (float -> half/bf16)
/// rounds to nearest, ties to even, as PyTorch's `.half()` / `.bfloat16()`: values at or beyond
/// 65520 become +-inf in half, tiny values become half subnormals or +-0, NaN stays a (quiet) NaN.
/// Pure functions on the host, no state.
#include <bit>
#include <cstdint>

namespace backlight {

/// Exact widening of an IEEE binary16 bit pattern.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf (mant 0) or NaN (payload kept, stays non-zero)
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;  // +-0
    } else {
      // Subnormal: mant * 2^-24. Shift the leading 1 into the implicit-bit position.
      int e = 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --e;
      }
      bits = sign | (static_cast<uint32_t>(e + 112) << 23) | ((mant & 0x3FFu) << 13);
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  }
  return std::bit_cast<float>(bits);
}

/// Exact widening of a bfloat16 bit pattern (the upper half of a float32).
inline float bf16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

/// Round-to-nearest-even narrowing to IEEE binary16.
inline uint16_t float_to_half(float f) {
  const uint32_t x_all = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x_all >> 16) & 0x8000u);
  const uint32_t x = x_all & 0x7FFFFFFFu;
  if (x >= 0x7F800000u)  // inf or NaN; NaN keeps the top payload bits and is forced quiet
    return static_cast<uint16_t>(sign | 0x7C00u | (x > 0x7F800000u ? (0x200u | ((x >> 13) & 0x3FFu)) : 0u));
  if (x >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (x < 0x38800000u) {                                                // below 2^-14: half subnormal or 0
    if (x <= 0x33000000u) return sign;                                  // <= 2^-25 rounds (ties-even) to 0
    const uint32_t e = x >> 23;
    const uint32_t m = (x & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - e;  // value / 2^-24 = m * 2^(e-126)
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;  // may carry into the smallest normal: still right
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (x - 0x38000000u) >> 13;  // rebias 127 -> 15, drop 13 mantissa bits
  const uint32_t rem = x & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry propagates into the exponent
  return static_cast<uint16_t>(sign | h);
}

/// Round-to-nearest-even narrowing to bfloat16 (NaN stays a quiet NaN).
inline uint16_t float_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace backlight
