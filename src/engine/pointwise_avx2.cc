// The pointwise convolution's AVX2 register tiles (pointwise_conv.h), in its
// two forms. Only the functions marked LOOKOUT_AVX2 are compiled for AVX2
// (per-function target attribute); they run only where isa_available(avx2).
//
// Words: 6 pixels x 2 vectors of 8 output channels = 12 int32 accumulators.
// Each tile's pixels are widened to int16 once; per pair of input channels,
// each pixel's pair is broadcast, each filter vector (int16 w - wzp, widened
// at load) loaded once, and vpmaddwd adds the two exact products per lane.
//
// Bytes: 4 pixels x 2 vectors = 8 accumulators. Per step of 8 input
// channels, each pixel's two groups of 4 bytes are broadcast straight from
// the input, vpmaddubsw multiplies each by its group's filter vector, the two
// int16 results are added, and vpmaddwd by ones widens the sums into the
// accumulator. Then each vector's fixups, a group each.
#include "engine/pointwise_conv.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/pointwise_tiles.h"

namespace lookout::engine {

#if defined(__x86_64__)

namespace {

namespace ymm = pointwise_detail::ymm;
using pointwise_detail::tile_fn;
using ymm::kBlock;
using ymm::RequantVectors;

constexpr int kTile = 6;
constexpr int kChunk = 2;
constexpr size_t kVectorBytes = 32;  // one ymm: 8 channels x 2 input channels x int16

int32_t load_i32(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// acc += vpmaddwd(x, w): 8 lanes of two exact int16 products summed. Inline
// asm so that each product goes straight into its accumulator through one
// scratch register: with intrinsics GCC 12 computes all the tile's products
// first and spills the accumulators.
LOOKOUT_AVX2 inline void madd_accumulate(__m256i& acc, __m256i x, __m256i w) {
  __m256i product;
  asm("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" : "+x"(acc), "=&x"(product) : "x"(x), "x"(w));
}

// out[0..n) = x[0..n) widened to int16.
LOOKOUT_AVX2 void widen(const uint8_t* x, int32_t n, int16_t* out) {
  if (n < 16) {
    for (int32_t i = 0; i < n; ++i) out[i] = x[i];
    return;
  }
  for (int32_t i = 0; i < n; i += 16) {
    const int32_t at = std::min(i, n - 16);  // the last step ends at n, overlapping the one before
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + at),
                        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + at))));
  }
}

struct TileArgs {
  const int16_t* input;   // the tile's widened pixels, `stride` apart
  int32_t stride;         // 2 * groups
  int32_t groups;         // ceil(in_c / 2)
  const int8_t* filter;   // the chunk's packed filter
  const int32_t* column;  // the chunk's first channel's column constant
  uint8_t* output;        // first pixel, first channel of the chunk
  int32_t out_c;          // output row stride
  int32_t channels;       // valid channels in the chunk (<= N * 8)
};

// Both forms' tile ends: acc (which started at the column constants)
// requantized and stored (a.output, a.out_c, a.channels as in TileArgs), two
// vectors at a time where the chunk has them.
template <int M, int N, class Args>
LOOKOUT_AVX2 inline void requantize_store(const __m256i (&acc)[M][N], const Args& a, const RequantVectors& q) {
#pragma GCC unroll 6
  for (int m = 0; m < M; ++m) {
    uint8_t* out = a.output + static_cast<int64_t>(m) * a.out_c;
    if constexpr (N == 2) {
      ymm::store_block16(out, ymm::requantize16(acc[m][0], acc[m][1], q), a.channels);
    } else {
      ymm::store_block(out, ymm::requantize(acc[m][0], q), a.channels);
    }
  }
}

// The accumulators' start: the chunk's column constants.
template <int M, int N, class Args>
LOOKOUT_AVX2 inline void start_at_column(__m256i (&acc)[M][N], const Args& a) {
#pragma GCC unroll 2
  for (int n = 0; n < N; ++n) {
    const __m256i column = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.column + n * kBlock));
#pragma GCC unroll 6
    for (int m = 0; m < M; ++m) acc[m][n] = column;
  }
}

template <int M, int N>
struct Tile {
  LOOKOUT_AVX2 static void run(const TileArgs& a, const RequantVectors& q);
};

template <int M, int N>
LOOKOUT_AVX2 void Tile<M, N>::run(const TileArgs& a, const RequantVectors& q) {
  __m256i acc[M][N];
  start_at_column(acc, a);

  const int8_t* w = a.filter;
  const int16_t* x = a.input;
  for (int32_t g = 0; g < a.groups; ++g) {
    __m256i wv[N];
#pragma GCC unroll 2
    for (int n = 0; n < N; ++n) wv[n] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + n * kVectorBytes));
#pragma GCC unroll 6
    for (int m = 0; m < M; ++m) {
      const __m256i xv = _mm256_set1_epi32(load_i32(x + m * a.stride));
#pragma GCC unroll 2
      for (int n = 0; n < N; ++n) madd_accumulate(acc[m][n], xv, wv[n]);
    }
    w += N * kVectorBytes;
    x += 2;
  }

  requantize_store(acc, a, q);
}

struct ByteTileArgs {
  const uint8_t* input;         // the tile's first pixel
  int64_t stride;               // bytes from one pixel to the next
  int32_t steps;                // 8-input steps
  const int8_t* filter;         // the chunk's packed main filter
  const int32_t* fixup_begin;   // the chunk's blocks' first fixups (N + 1)
  const int32_t* fixup_groups;  // every fixup's 4-input group
  const int8_t* fixup_filter;   // and filter (32 bytes each)
  const int32_t* column;        // the chunk's first channel's column constant
  uint8_t* output;              // first pixel, first channel of the chunk
  int32_t out_c;                // output row stride
  int32_t channels;             // valid channels in the chunk (<= N * 8)
};

alignas(32) constexpr int16_t kOnes[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

LOOKOUT_AVX2 inline __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

// acc += vpmaddwd(vpmaddubsw(xa, wa) + vpmaddubsw(xb, wb), ones). The
// products stay exact: the split keeps each int16 sum within 255 x 128.
// Inline asm for the same reason as madd_accumulate, and for the ones'
// memory operand (all 16 ymm hold the tile).
LOOKOUT_AVX2 inline void step_accumulate(__m256i& acc, __m256i xa, __m256i xb, __m256i wa, __m256i wb) {
  __m256i a, b;
  asm("vpmaddubsw %5, %3, %0\n\t"
      "vpmaddubsw %6, %4, %1\n\t"
      "vpaddw %1, %0, %0\n\t"
      "vpmaddwd %7, %0, %0\n\t"
      "vpaddd %0, %2, %2"
      : "=&x"(a), "=&x"(b), "+x"(acc)
      : "x"(xa), "x"(xb), "x"(wa), "x"(wb), "m"(*reinterpret_cast<const __m256i*>(kOnes)));
}

template <int M, int N>
struct ByteTile {
  LOOKOUT_AVX2 static void run(const ByteTileArgs& a, const RequantVectors& q);
};

template <int M, int N>
LOOKOUT_AVX2 void ByteTile<M, N>::run(const ByteTileArgs& a, const RequantVectors& q) {
  __m256i acc[M][N];
  start_at_column(acc, a);

  const int8_t* w = a.filter;
  const uint8_t* x = a.input;
  for (int32_t s = 0; s < a.steps; ++s) {
    __m256i wa[N], wb[N];
#pragma GCC unroll 2
    for (int n = 0; n < N; ++n) {
      wa[n] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + n * kVectorBytes));
      wb[n] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + (N + n) * kVectorBytes));
    }
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) {
      const __m256i xa = broadcast4(x + m * a.stride), xb = broadcast4(x + m * a.stride + 4);
#pragma GCC unroll 2
      for (int n = 0; n < N; ++n) step_accumulate(acc[m][n], xa, xb, wa[n], wb[n]);
    }
    w += 2 * N * kVectorBytes;
    x += 8;
  }

  const __m256i ones = _mm256_load_si256(reinterpret_cast<const __m256i*>(kOnes));
#pragma GCC unroll 2
  for (int n = 0; n < N; ++n)
    for (int32_t f = a.fixup_begin[n]; f < a.fixup_begin[n + 1]; ++f) {
      const int8_t* fw = a.fixup_filter + static_cast<ptrdiff_t>(f) * kVectorBytes;
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(fw));
      const uint8_t* fx = a.input + 4 * a.fixup_groups[f];
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        const __m256i products = _mm256_maddubs_epi16(broadcast4(fx + m * a.stride), wv);
        acc[m][n] = _mm256_add_epi32(acc[m][n], _mm256_madd_epi16(products, ones));
      }
    }

  requantize_store(acc, a, q);
}

}  // namespace

LOOKOUT_AVX2 void PointwiseConv::run_range_avx2_bytes(const uint8_t* input, uint8_t* output, const Range& r) const {
  constexpr int kByteTile = 4;
  const RequantVectors q = ymm::requant_vectors(requantization_);
  const int64_t in_c = shape_.in_c;
  const int32_t width = 4 * groups_;  // in_c rounded up to whole steps
  ByteTileArgs a{};
  a.steps = groups_ / 2;
  a.fixup_groups = fixup_groups_.data();
  a.fixup_filter = fixup_filter_.data();
  a.out_c = shape_.out_c;
  // A row whose steps would read past it is copied, zero-padded (its
  // filter values there are zero, but the bytes must exist).
  std::vector<uint8_t> padded(width != in_c ? static_cast<size_t>(kByteTile) * static_cast<size_t>(width) : 0, 0);
  a.stride = width != in_c ? width : in_c;
  for (int64_t p = r.pixel_begin; p < r.pixel_end; p += kByteTile) {
    const int m = static_cast<int>(std::min<int64_t>(kByteTile, r.pixel_end - p));
    if (padded.empty()) {
      a.input = input + p * in_c;
    } else {
      for (int i = 0; i < m; ++i)
        std::memcpy(padded.data() + static_cast<size_t>(i) * static_cast<size_t>(width), input + (p + i) * in_c,
                    static_cast<size_t>(in_c));
      a.input = padded.data();
    }
    for_each_chunk(output, p, r, [&](const Chunk& c, int n) {
      a.filter = c.filter;
      a.fixup_begin = fixup_begin_.data() + static_cast<ptrdiff_t>(c.index) * kChunk;
      a.column = c.column;
      a.output = c.output;
      a.channels = c.channels;
      tile_fn<ByteTile, kByteTile, kChunk>(m, n)(a, q);
    });
  }
}

LOOKOUT_AVX2 void PointwiseConv::run_range_avx2(const uint8_t* input, uint8_t* output, const Range& r) const {
  const RequantVectors q = ymm::requant_vectors(requantization_);
  const int64_t in_c = shape_.in_c;
  TileArgs a{};
  a.groups = groups_;
  a.stride = 2 * groups_;
  a.out_c = shape_.out_c;
  // Zeros past in_c stay zero: widen() writes in_c values per row.
  std::vector<int16_t> widened(static_cast<size_t>(kTile) * static_cast<size_t>(a.stride), 0);
  a.input = widened.data();
  for (int64_t p = r.pixel_begin; p < r.pixel_end; p += kTile) {
    const int m = static_cast<int>(std::min<int64_t>(kTile, r.pixel_end - p));
    for (int i = 0; i < m; ++i)
      widen(input + (p + i) * in_c, shape_.in_c, widened.data() + static_cast<size_t>(i) * static_cast<size_t>(a.stride));
    for_each_chunk(output, p, r, [&](const Chunk& c, int n) {
      a.filter = c.filter;
      a.column = c.column;
      a.output = c.output;
      a.channels = c.channels;
      tile_fn<Tile, kTile, kChunk>(m, n)(a, q);
    });
  }
}

#else

void PointwiseConv::run_range_avx2(const uint8_t*, uint8_t*, const Range&) const {
  throw Error("the AVX2 pointwise kernel is not built for this architecture");
}

void PointwiseConv::run_range_avx2_bytes(const uint8_t*, uint8_t*, const Range&) const {
  throw Error("the AVX2 pointwise kernel is not built for this architecture");
}

#endif  // __x86_64__

}  // namespace lookout::engine
