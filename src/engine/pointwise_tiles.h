// Internal to the pointwise convolution (pointwise_conv.h): what its
// register tiles share.
//
// - The dot-product levels (avx512vnni: pointwise_vnni.cc, avxvnni:
//   pointwise_avxvnni.cc) share the tile arguments and the loop over pixel
//   tiles and chunks (PointwiseConv::run_range_dot): each level gives its
//   byte sum and its tiles (DotTiles), the one tile of pointwise_dot_tile.h
//   on its vector type.
// - Every level picks its M pixels x N vectors tile from a table (tile_fn).
// - The 256-bit tiles (pointwise_avx2.cc, pointwise_avxvnni.cc) share the
//   requantization and the stores (namespace ymm; x86-64 only, compiled for
//   AVX2 by per-function target attribute and inlined into the tiles).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "engine/quantization.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lookout::engine::pointwise_detail {

// One dot-product tile's work: M pixels x N vectors of output channels.
struct DotTileArgs {
  const uint8_t* input;   // first pixel of the tile
  int32_t in_c;
  int32_t full_groups;    // in_c / 4
  int32_t tail;           // in_c % 4
  const int8_t* filter;   // the chunk's packed filter
  const int32_t* column;  // the chunk's first channel's column constant
  const int32_t* row;     // the tile's per-pixel row terms
  uint8_t* output;        // first pixel, first channel of the chunk
  int32_t out_c;          // output row stride
  int32_t channels;       // valid channels in the chunk (<= N * block_channels)
  const Fp32Requantization* requantization;
};
using DotTileFn = void (*)(const DotTileArgs&);

// A dot-product level's kernels; tile(m, n) for 1 <= m <= tile_pixels,
// 1 <= n <= chunk_blocks (pointwise_tiling).
struct DotTiles {
  int32_t (*byte_sum)(const uint8_t* x, int32_t n);  // sum of n bytes
  DotTileFn (*tile)(int m, int n);
};
DotTiles vnni_dot_tiles();     // pointwise_vnni.cc; throws Error off x86-64
DotTiles avxvnni_dot_tiles();  // pointwise_avxvnni.cc; throws Error off x86-64

// &Tile<m, n>::run for 1 <= m <= kM, 1 <= n <= kN, from a table.
template <template <int, int> class Tile, int kM, int kN, int... I>
constexpr auto tile_table(std::integer_sequence<int, I...>) {
  return std::array{&Tile<I % kM + 1, I / kM + 1>::run...};
}
template <template <int, int> class Tile, int kM, int kN>
auto tile_fn(int m, int n) {
  static constexpr auto table = tile_table<Tile, kM, kN>(std::make_integer_sequence<int, kM * kN>{});
  return table[static_cast<size_t>((n - 1) * kM + (m - 1))];
}

#if defined(__x86_64__)

#define LOOKOUT_AVX2 __attribute__((target("avx2,fma")))

namespace ymm {

constexpr int kBlock = 8;  // int32 lanes, output channels per ymm

// The float constants of the requantization, one vector each, the zero
// point as int32 and as int16 lanes, and requantize16()'s byte order.
struct RequantVectors {
  __m256 scale, min, max;
  __m256i zero_point, zero_point_words, order;
};

LOOKOUT_AVX2 inline RequantVectors requant_vectors(const Fp32Requantization& r) {
  return {_mm256_set1_ps(r.scale),
          _mm256_set1_ps(r.min_less_zero_point),
          _mm256_set1_ps(r.max_less_zero_point),
          _mm256_set1_epi32(r.zero_point),
          _mm256_set1_epi16(static_cast<int16_t>(r.zero_point)),
          _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)};
}

// requantize()'s float operations up to the rounding, before the zero
// point (also requantize16()'s).
LOOKOUT_AVX2 inline __m256i requantize_rounded(__m256i acc, const RequantVectors& q) {
  const __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), q.scale);
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(x, q.min), q.max));
}
// Fp32Requantization::apply on 8 accumulators, the same float operations in
// the same order: int32 -> float (round to nearest even, MXCSR default),
// multiply, clamp (max then min, no NaN possible), round to nearest even,
// + zero point. The 8 results, in [0, 255], become the low 8 bytes.
LOOKOUT_AVX2 inline __m128i requantize(__m256i acc, const RequantVectors& q) {
  const __m256i v = _mm256_add_epi32(requantize_rounded(acc, q), q.zero_point);
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packus_epi16(words, words);
}

// Fp32Requantization::apply on 16 accumulators, two vectors of 8 channels,
// with requantize()'s float operations, less its work per vector after
// them: the rounded values (clamped, so within [-255, 255]) pack to int16
// together, the zero point is added there (the sums are within [0, 255]),
// and one byte pack and one permute put all 16 in channel order.
LOOKOUT_AVX2 inline __m128i requantize16(__m256i low, __m256i high, const RequantVectors& q) {
  // Per 128-bit lane L: channels 4L..4L+3 of each vector, as words.
  const __m256i words = _mm256_add_epi16(
      _mm256_packs_epi32(requantize_rounded(low, q), requantize_rounded(high, q)), q.zero_point_words);
  // Dwords low 0-3, high 0-3 (lane 0) and low 4-7, high 4-7 (lane 1) into order.
  const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(words, words), q.order);
  return _mm256_castsi256_si128(bytes);
}

// Stores the low min(left, 8) bytes of `bytes` at out (no masked stores
// below AVX-512: a partial block goes through a buffer).
LOOKOUT_AVX2 inline void store_block(uint8_t* out, __m128i bytes, int32_t left) {
  if (left >= kBlock) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    alignas(16) uint8_t buffer[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(buffer), bytes);
    std::memcpy(out, buffer, static_cast<size_t>(left));
  }
}

// Stores the low min(left, 16) bytes of `bytes` at out.
LOOKOUT_AVX2 inline void store_block16(uint8_t* out, __m128i bytes, int32_t left) {
  if (left >= 2 * kBlock) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    alignas(16) uint8_t buffer[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(buffer), bytes);
    std::memcpy(out, buffer, static_cast<size_t>(left));
  }
}

}  // namespace ymm

#endif  // __x86_64__

}  // namespace lookout::engine::pointwise_detail
