#pragma once
/// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator. The i-th draw of a stream
/// depends only on (seed, stream, i), so CPU threads and CUDA threads produce identical noise for
/// the same seed, in any order or chunking. BL_HD: compiled for host and device from this header.
#include <cmath>
#include <cstdint>

#include "engine/hd.h"

namespace backlight::philox {

struct U4 {
  uint32_t v[4];
};

BL_HD inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

/// Four 32-bit random words for counter (c0..c3) and key (k0, k1).
BL_HD inline U4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return U4{{c0, c1, c2, c3}};
}

/// Uniform in (0, 1] from 32 random bits (never 0, so log() is safe).
BL_HD inline float to_unit(uint32_t x) { return (static_cast<float>(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }

/// Element i of a standard normal stream (Box-Muller on one Philox block per pair of elements).
BL_HD inline float normal(uint64_t seed, uint64_t stream, uint64_t i) {
  const uint64_t pair = i >> 1;
  const U4 r = philox4x32_10(static_cast<uint32_t>(pair), static_cast<uint32_t>(pair >> 32),
                             static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                             static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const float u1 = to_unit(r.v[0]), u2 = to_unit(r.v[1]);
  const float radius = sqrtf(-2.0f * logf(u1));
  const float angle = 6.283185307179586f * u2;
  return (i & 1) ? radius * sinf(angle) : radius * cosf(angle);
}

/// Element i of a uniform [0, 1) stream.
BL_HD inline float uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  const U4 r = philox4x32_10(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), static_cast<uint32_t>(stream),
                             static_cast<uint32_t>(stream >> 32) ^ 0x5bd1e995u, static_cast<uint32_t>(seed),
                             static_cast<uint32_t>(seed >> 32));
  return static_cast<float>(r.v[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace backlight::philox
