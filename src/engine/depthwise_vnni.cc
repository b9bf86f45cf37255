// The 3x3 depthwise convolution's AVX-512 VNNI kernel (depthwise_conv.h).
// Only the functions marked LOOKOUT_VNNI are compiled for AVX-512
// (per-function target attribute); they run only where
// isa_available(avx512vnni).
//
// Per output pixel and 64 channels: per quad of taps, four 64-byte loads,
// eight unpacks, and eight vpdpbusd (the filter, and ones for the byte sum);
// then the correction, the requantization of four vectors and three packs.
#include "engine/depthwise_conv.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>

#include "engine/error.h"

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace lookout::engine {

#if defined(__x86_64__)

namespace {

constexpr int kChannels = DepthwiseConv3x3::kVnniChannels;
constexpr int kQuadBytes = kChannels * 4;  // one quad of one block: four zmm

// acc += 4-byte dot products of u8 x s8 per int32 lane; inline asm as in
// pointwise_vnni.cc (GCC 12's intrinsic copies the accumulator per call).
LOOKOUT_VNNI inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) { acc = _mm512_dpbusd_epi32(acc, u8, s8); }

// Fp32Requantization::apply on 16 accumulators (as pointwise_vnni.cc),
// leaving int32 in [0, 255].
LOOKOUT_VNNI inline __m512i requantize(__m512i acc, __m512 scale, __m512 min, __m512 max, __m512i zero_point) {
  __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  x = _mm512_min_ps(_mm512_max_ps(x, min), max);
  return _mm512_add_epi32(_mm512_cvtps_epi32(x), zero_point);
}

}  // namespace

LOOKOUT_VNNI void DepthwiseConv3x3::run_rows_vnni(const uint8_t* input, int64_t input_row, uint8_t* output,
                                                  int64_t output_row, int64_t row_begin, int64_t row_end) const {
  const __m512 scale = _mm512_set1_ps(requantization_.scale);
  const __m512 min = _mm512_set1_ps(requantization_.min_less_zero_point);
  const __m512 max = _mm512_set1_ps(requantization_.max_less_zero_point);
  const __m512i zero_point = _mm512_set1_epi32(requantization_.zero_point);
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i sum_factor = _mm512_set1_epi32(sum_factor_);
  const __m512i zero = _mm512_setzero_si512();
  const DepthwiseShape& s = shape_;
  const int64_t channels = s.channels;
  Taps walk(*this, input, input_row);
  for (int64_t row = row_begin; row < row_end; ++row) {  // row = batch * out_h + oy
    walk.start_row(row);
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const uint8_t* const* taps = walk.next();
      uint8_t* out = output + ((row - output_row) * s.out_w + ox) * channels;
      for (int32_t b = 0; b < blocks_; ++b) {
        const int64_t c = int64_t{b} * kChannels;
        const int64_t valid = std::min<int64_t>(kChannels, channels - c);
        const __mmask64 mask = valid == kChannels ? ~__mmask64{0} : (__mmask64{1} << valid) - 1;
        __m512i acc[4], sum[4];
        const int32_t* column = column_.data() + c;
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          acc[k] = _mm512_loadu_si512(column + 16 * k);
          sum[k] = _mm512_setzero_si512();
        }
        const int8_t* w = packed_quads_.data() + int64_t{b} * kQuads * kQuadBytes;
#pragma GCC unroll 3
        for (int q = 0; q < kQuads; ++q) {
          // Taps 4q..4q+3 (the last quad: tap 8 and zeros).
          __m512i t[4];
#pragma GCC unroll 4
          for (int i = 0; i < 4; ++i)
            t[i] = 4 * q + i < kTaps ? _mm512_maskz_loadu_epi8(mask, taps[4 * q + i] + c) : zero;
          const __m512i a = _mm512_unpacklo_epi8(t[0], t[1]), bb = _mm512_unpackhi_epi8(t[0], t[1]);
          const __m512i cc = _mm512_unpacklo_epi8(t[2], t[3]), d = _mm512_unpackhi_epi8(t[2], t[3]);
          const __m512i r[4] = {_mm512_unpacklo_epi16(a, cc), _mm512_unpackhi_epi16(a, cc),
                                _mm512_unpacklo_epi16(bb, d), _mm512_unpackhi_epi16(bb, d)};
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            dpbusd(acc[k], r[k], _mm512_loadu_si512(w + q * kQuadBytes + 64 * k));
            dpbusd(sum[k], r[k], ones);
          }
        }
        __m512i qv[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k)
          qv[k] = requantize(_mm512_add_epi32(acc[k], _mm512_mullo_epi32(sum[k], sum_factor)), scale, min, max,
                             zero_point);
        // Per 128-bit lane L: channels 16L + 0..7 as words, then 8..15, then all 16 as bytes.
        const __m512i bytes =
            _mm512_packus_epi16(_mm512_packs_epi32(qv[0], qv[1]), _mm512_packs_epi32(qv[2], qv[3]));
        _mm512_mask_storeu_epi8(out + c, mask, bytes);
      }
    }
  }
}

#else

void DepthwiseConv3x3::run_rows_vnni(const uint8_t*, int64_t, uint8_t*, int64_t, int64_t, int64_t) const {
  throw Error("the AVX-512 VNNI depthwise kernel is not built for this architecture");
}

#endif  // __x86_64__

}  // namespace lookout::engine
