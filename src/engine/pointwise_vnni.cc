// The pointwise convolution's AVX-512 VNNI register tiles (pointwise_conv.h).
// Only the functions marked LOOKOUT_VNNI are compiled for AVX-512
// (per-function target attribute, not a global -march flag, so nothing else
// changes code generation); they run only where isa_available(avx512vnni).
//
// Register tile: 8 pixels x 3 vectors of 16 output channels = 24 int32
// accumulators. Per group of 4 input channels, each pixel's 4 bytes are
// broadcast and each filter vector loaded once.
#include "engine/pointwise_conv.h"

#include <cstring>

#include "engine/error.h"
#include "engine/pointwise_tiles.h"

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace lookout::engine::pointwise_detail {

#if defined(__x86_64__)

namespace {

constexpr int kTile = 8;
constexpr int kBlock = 16;
constexpr int kChunk = 3;
constexpr size_t kVectorBytes = 64;  // one zmm: 16 channels x 4 input channels

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// acc += 4-byte dot products of u8 x s8, per int32 lane (vpdpbusd). Inline
// asm with acc as a read-write operand: GCC 12's _mm512_dpbusd_epi32 gives a
// register copy per call and spills the accumulator tile to the stack.
LOOKOUT_VNNI inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
}

// The float constants of the requantization, one vector each.
struct RequantVectors {
  __m512 scale, min, max;
  __m512i zero_point;
};

// Fp32Requantization::apply on 16 accumulators, the same float operations in
// the same order: int32 -> float (round to nearest even, MXCSR default),
// multiply, clamp (max then min, no NaN possible), round to nearest even,
// + zero point. The result is in [0, 255], so truncating to bytes is exact.
LOOKOUT_VNNI inline __m128i requantize(__m512i acc, const RequantVectors& q) {
  __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), q.scale);
  x = _mm512_min_ps(_mm512_max_ps(x, q.min), q.max);
  const __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(x), q.zero_point);
  return _mm512_cvtepi32_epi8(v);
}

// Sum of `n` bytes.
LOOKOUT_VNNI inline int32_t byte_sum(const uint8_t* x, int32_t n) {
  __m512i total = _mm512_setzero_si512();
  int32_t i = 0;
  for (; i + 64 <= n; i += 64)
    total = _mm512_add_epi64(total, _mm512_sad_epu8(_mm512_loadu_si512(x + i), _mm512_setzero_si512()));
  if (i < n) {
    const __mmask64 mask = (uint64_t{1} << (n - i)) - 1;  // n - i < 64
    total = _mm512_add_epi64(total, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(mask, x + i), _mm512_setzero_si512()));
  }
  return static_cast<int32_t>(_mm512_reduce_add_epi64(total));
}

// One register tile: M pixels x N vectors of output channels.
template <int M, int N>
struct Tile {
  LOOKOUT_VNNI static void run(const DotTileArgs& a);
};

template <int M, int N>
LOOKOUT_VNNI void Tile<M, N>::run(const DotTileArgs& a) {
  __m512i acc[M][N];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) acc[m][n] = _mm512_setzero_si512();

  const int8_t* w = a.filter;
  const uint8_t* x = a.input;
  for (int32_t g = 0; g < a.full_groups; ++g) {
    __m512i wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = _mm512_load_si512(w + n * kVectorBytes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512i xv = _mm512_set1_epi32(static_cast<int32_t>(load_u32(x + m * a.in_c)));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) dpbusd(acc[m][n], xv, wv[n]);
    }
    w += N * kVectorBytes;
    x += 4;
  }
  if (a.tail != 0) {  // the last 1-3 input channels; the filter is zero past in_c
    __m512i wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = _mm512_load_si512(w + n * kVectorBytes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      uint32_t bytes = 0;
      std::memcpy(&bytes, x + m * a.in_c, static_cast<size_t>(a.tail));
      const __m512i xv = _mm512_set1_epi32(static_cast<int32_t>(bytes));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) dpbusd(acc[m][n], xv, wv[n]);
    }
  }

  const Fp32Requantization& r = *a.requantization;
  const RequantVectors q{_mm512_set1_ps(r.scale), _mm512_set1_ps(r.min_less_zero_point),
                         _mm512_set1_ps(r.max_less_zero_point), _mm512_set1_epi32(r.zero_point)};
  __m512i column[N];
#pragma GCC unroll 3
  for (int n = 0; n < N; ++n) column[n] = _mm512_loadu_si512(a.column + n * kBlock);
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    const __m512i row = _mm512_set1_epi32(a.row[m]);
    uint8_t* out = a.output + static_cast<int64_t>(m) * a.out_c;
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) {
      const __m512i total = _mm512_add_epi32(_mm512_add_epi32(acc[m][n], row), column[n]);
      const __m128i bytes = requantize(total, q);
      const int32_t left = a.channels - n * kBlock;
      if (left >= kBlock)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n * kBlock), bytes);
      else
        _mm_mask_storeu_epi8(out + n * kBlock, static_cast<__mmask16>((1u << left) - 1u), bytes);
    }
  }
}

}  // namespace

DotTiles vnni_dot_tiles() { return {&byte_sum, &tile_fn<Tile, kTile, kChunk>}; }

#else

DotTiles vnni_dot_tiles() { throw Error("the AVX-512 VNNI pointwise kernel is not built for this architecture"); }

#endif  // __x86_64__

}  // namespace lookout::engine::pointwise_detail
