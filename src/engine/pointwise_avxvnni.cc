// The pointwise convolution's AVX-VNNI register tiles (pointwise_conv.h):
// the AVX-512 VNNI tile's math (pointwise_vnni.cc: filter packed as int8
// w - 128, per-pixel row term (128 - wzp) * sum x) on 256-bit vectors with
// the VEX-encoded vpdpbusd. Only the functions marked LOOKOUT_AVXVNNI (or
// LOOKOUT_AVX2, pointwise_tiles.h) are compiled for those instructions
// (per-function target attribute); they run only where
// isa_available(avxvnni).
//
// Register tile: 6 pixels x 2 vectors of 8 output channels = 12 int32
// accumulators, 2 filter vectors and a broadcast input: 15 of the 16 ymm.
// Per group of 4 input channels, each pixel's 4 bytes are broadcast and each
// filter vector loaded once.
#include "engine/pointwise_conv.h"

#include <cstring>

#include "engine/error.h"
#include "engine/pointwise_tiles.h"

#define LOOKOUT_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))

namespace lookout::engine::pointwise_detail {

#if defined(__x86_64__)

namespace {

using ymm::kBlock;

constexpr int kTile = 6;
constexpr int kChunk = 2;
constexpr size_t kVectorBytes = 32;  // one ymm: 8 channels x 4 input channels

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// acc += 4-byte dot products of u8 x s8, per int32 lane (VEX vpdpbusd).
// Inline asm with acc as a read-write operand, as in pointwise_vnni.cc
// (GCC 12's intrinsic copies the accumulator per call); "x": ymm0-15, the
// registers VEX encodes; %{vex%}: the VEX form, not AVX-512 VNNI's EVEX one.
LOOKOUT_AVXVNNI inline void dpbusd(__m256i& acc, __m256i u8, __m256i s8) {
  asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "x"(s8));
}

// Sum of `n` bytes (vpsadbw: sums of 8 bytes), 32, 16, 8 then 4 at a time:
// the early layers have 16-32 input channels.
LOOKOUT_AVX2 inline int32_t byte_sum(const uint8_t* x, int32_t n) {
  const auto sad = [](__m128i v) { return _mm_sad_epu8(v, _mm_setzero_si128()); };  // SSE2: no target needed
  __m256i total = _mm256_setzero_si256();
  int32_t i = 0;
  for (; i + 32 <= n; i += 32)
    total = _mm256_add_epi64(
        total, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), _mm256_setzero_si256()));
  __m128i sum = _mm_add_epi64(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
  if (i + 16 <= n) {
    sum = _mm_add_epi64(sum, sad(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    i += 16;
  }
  if (i + 8 <= n) {
    sum = _mm_add_epi64(sum, sad(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i))));
    i += 8;
  }
  if (i + 4 <= n) {
    sum = _mm_add_epi64(sum, sad(_mm_cvtsi32_si128(static_cast<int32_t>(load_u32(x + i)))));
    i += 4;
  }
  int64_t bytes = _mm_cvtsi128_si64(sum) + _mm_extract_epi64(sum, 1);
  for (; i < n; ++i) bytes += x[i];
  return static_cast<int32_t>(bytes);
}

// One register tile: M pixels x N vectors of output channels.
template <int M, int N>
struct Tile {
  LOOKOUT_AVXVNNI static void run(const DotTileArgs& a);
};

template <int M, int N>
LOOKOUT_AVXVNNI void Tile<M, N>::run(const DotTileArgs& a) {
  __m256i acc[M][N];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) acc[m][n] = _mm256_setzero_si256();

  const int8_t* w = a.filter;
  const uint8_t* x = a.input;
  for (int32_t g = 0; g < a.full_groups; ++g) {
    __m256i wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + n * kVectorBytes));
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m256i xv = _mm256_set1_epi32(static_cast<int32_t>(load_u32(x + m * a.in_c)));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) dpbusd(acc[m][n], xv, wv[n]);
    }
    w += N * kVectorBytes;
    x += 4;
  }
  if (a.tail != 0) {  // the last 1-3 input channels; the filter is zero past in_c
    __m256i wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + n * kVectorBytes));
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      uint32_t bytes = 0;
      std::memcpy(&bytes, x + m * a.in_c, static_cast<size_t>(a.tail));
      const __m256i xv = _mm256_set1_epi32(static_cast<int32_t>(bytes));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) dpbusd(acc[m][n], xv, wv[n]);
    }
  }

  const ymm::RequantVectors q = ymm::requant_vectors(*a.requantization);
  __m256i column[N];
#pragma GCC unroll 3
  for (int n = 0; n < N; ++n) column[n] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.column + n * kBlock));
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    const __m256i row = _mm256_set1_epi32(a.row[m]);
    uint8_t* out = a.output + static_cast<int64_t>(m) * a.out_c;
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) {
      const __m256i total = _mm256_add_epi32(_mm256_add_epi32(acc[m][n], row), column[n]);
      ymm::store_block(out + n * kBlock, ymm::requantize(total, q), a.channels - n * kBlock);
    }
  }
}

}  // namespace

DotTiles avxvnni_dot_tiles() { return {&byte_sum, &tile_fn<Tile, kTile, kChunk>}; }

#else

DotTiles avxvnni_dot_tiles() { throw Error("the AVX-VNNI pointwise kernel is not built for this architecture"); }

#endif  // __x86_64__

}  // namespace lookout::engine::pointwise_detail
