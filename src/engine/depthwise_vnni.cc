// The 3x3 depthwise convolution's AVX-512 VNNI kernel (depthwise_conv.h).
// Only the functions marked LOOKOUT_VNNI are compiled for AVX-512
// (per-function target attribute); they run only where
// isa_available(avx512vnni).
//
// Per output pixel and 64 channels (32 in ymm for a short last block): per
// quad of taps, four loads, eight unpacks, and eight vpdpbusd (the filter,
// and ones for the byte sum); then the correction, the requantization of
// four vectors and three packs.
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

constexpr int kQuads = DepthwiseConv3x3::kQuads;
constexpr int kTaps = DepthwiseConv3x3::kTaps;

// One step's vectors: zmm for 64 channels, ymm (AVX-512 VL) for 32. The
// same operations on both, in the same order.
struct Zmm {
  using I = __m512i;
  using F = __m512;
  using Mask = __mmask64;
  static constexpr int kWidth = 64;
  LOOKOUT_VNNI static I load(Mask m, const uint8_t* p) { return _mm512_maskz_loadu_epi8(m, p); }
  LOOKOUT_VNNI static I load(const void* p) { return _mm512_loadu_si512(p); }
  LOOKOUT_VNNI static I zero() { return _mm512_setzero_si512(); }
  LOOKOUT_VNNI static I set_i8(int8_t v) { return _mm512_set1_epi8(v); }
  LOOKOUT_VNNI static I set_i32(int32_t v) { return _mm512_set1_epi32(v); }
  LOOKOUT_VNNI static F set_f32(float v) { return _mm512_set1_ps(v); }
  LOOKOUT_VNNI static I unpacklo8(I a, I b) { return _mm512_unpacklo_epi8(a, b); }
  LOOKOUT_VNNI static I unpackhi8(I a, I b) { return _mm512_unpackhi_epi8(a, b); }
  LOOKOUT_VNNI static I unpacklo16(I a, I b) { return _mm512_unpacklo_epi16(a, b); }
  LOOKOUT_VNNI static I unpackhi16(I a, I b) { return _mm512_unpackhi_epi16(a, b); }
  // GCC 12's intrinsic: with eight accumulators nothing spills (pointwise_vnni.cc's 24 need inline asm).
  LOOKOUT_VNNI static I dpbusd(I acc, I u8, I s8) { return _mm512_dpbusd_epi32(acc, u8, s8); }
  LOOKOUT_VNNI static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  LOOKOUT_VNNI static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  LOOKOUT_VNNI static F to_float(I a) { return _mm512_cvtepi32_ps(a); }
  LOOKOUT_VNNI static I to_int(F a) { return _mm512_cvtps_epi32(a); }
  LOOKOUT_VNNI static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  LOOKOUT_VNNI static F clamp(F x, F lo, F hi) { return _mm512_min_ps(_mm512_max_ps(x, lo), hi); }
  LOOKOUT_VNNI static I packs32(I a, I b) { return _mm512_packs_epi32(a, b); }
  LOOKOUT_VNNI static I packus16(I a, I b) { return _mm512_packus_epi16(a, b); }
  LOOKOUT_VNNI static void store(uint8_t* p, Mask m, I v) { _mm512_mask_storeu_epi8(p, m, v); }
};

struct Ymm {
  using I = __m256i;
  using F = __m256;
  using Mask = __mmask32;
  static constexpr int kWidth = 32;
  LOOKOUT_VNNI static I load(Mask m, const uint8_t* p) { return _mm256_maskz_loadu_epi8(m, p); }
  LOOKOUT_VNNI static I load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  LOOKOUT_VNNI static I zero() { return _mm256_setzero_si256(); }
  LOOKOUT_VNNI static I set_i8(int8_t v) { return _mm256_set1_epi8(v); }
  LOOKOUT_VNNI static I set_i32(int32_t v) { return _mm256_set1_epi32(v); }
  LOOKOUT_VNNI static F set_f32(float v) { return _mm256_set1_ps(v); }
  LOOKOUT_VNNI static I unpacklo8(I a, I b) { return _mm256_unpacklo_epi8(a, b); }
  LOOKOUT_VNNI static I unpackhi8(I a, I b) { return _mm256_unpackhi_epi8(a, b); }
  LOOKOUT_VNNI static I unpacklo16(I a, I b) { return _mm256_unpacklo_epi16(a, b); }
  LOOKOUT_VNNI static I unpackhi16(I a, I b) { return _mm256_unpackhi_epi16(a, b); }
  LOOKOUT_VNNI static I dpbusd(I acc, I u8, I s8) { return _mm256_dpbusd_epi32(acc, u8, s8); }
  LOOKOUT_VNNI static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  LOOKOUT_VNNI static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  LOOKOUT_VNNI static F to_float(I a) { return _mm256_cvtepi32_ps(a); }
  LOOKOUT_VNNI static I to_int(F a) { return _mm256_cvtps_epi32(a); }
  LOOKOUT_VNNI static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  LOOKOUT_VNNI static F clamp(F x, F lo, F hi) { return _mm256_min_ps(_mm256_max_ps(x, lo), hi); }
  LOOKOUT_VNNI static I packs32(I a, I b) { return _mm256_packs_epi32(a, b); }
  LOOKOUT_VNNI static I packus16(I a, I b) { return _mm256_packus_epi16(a, b); }
  LOOKOUT_VNNI static void store(uint8_t* p, Mask m, I v) { _mm256_mask_storeu_epi8(p, m, v); }
};

// The constants of one width: the requantization's (Fp32Requantization),
// the byte sum's ones and factor.
template <class V>
struct Constants {
  typename V::F scale, min, max;
  typename V::I zero_point, ones, sum_factor;
};

template <class V>
LOOKOUT_VNNI inline Constants<V> constants(const Fp32Requantization& r, int32_t sum_factor) {
  return {V::set_f32(r.scale),         V::set_f32(r.min_less_zero_point), V::set_f32(r.max_less_zero_point),
          V::set_i32(r.zero_point),    V::set_i8(1),                      V::set_i32(sum_factor)};
}

// One pixel's `valid` channels from channel c (<= V::kWidth): `w` the
// block's packed quads, `column` its column constants (both in lane order).
template <class V>
LOOKOUT_VNNI inline void step(const uint8_t* const* taps, int64_t c, int64_t valid, const int8_t* w,
                              const int32_t* column, uint8_t* out, const Constants<V>& k) {
  using I = typename V::I;
  constexpr int kVector = V::kWidth / 4;  // int32 lanes per vector
  const auto mask = static_cast<typename V::Mask>(valid == V::kWidth ? ~uint64_t{0} : (uint64_t{1} << valid) - 1);
  I acc[4], sum[4];
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    acc[v] = V::load(column + kVector * v);
    sum[v] = V::zero();
  }
#pragma GCC unroll 3
  for (int q = 0; q < kQuads; ++q) {
    I t[4];  // taps 4q..4q+3 (the last quad: tap 8 and zeros)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) t[i] = 4 * q + i < kTaps ? V::load(mask, taps[4 * q + i] + c) : V::zero();
    const I a = V::unpacklo8(t[0], t[1]), b = V::unpackhi8(t[0], t[1]);
    const I cc = V::unpacklo8(t[2], t[3]), d = V::unpackhi8(t[2], t[3]);
    const I r[4] = {V::unpacklo16(a, cc), V::unpackhi16(a, cc), V::unpacklo16(b, d), V::unpackhi16(b, d)};
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      acc[v] = V::dpbusd(acc[v], r[v], V::load(w + (q * 4 + v) * V::kWidth));
      sum[v] = V::dpbusd(sum[v], r[v], k.ones);
    }
  }
  I q[4];
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    // Fp32Requantization::apply, as pointwise_vnni.cc: int32 in [0, 255].
    const typename V::F x = V::mul(V::to_float(V::add(acc[v], V::mullo(sum[v], k.sum_factor))), k.scale);
    q[v] = V::add(V::to_int(V::clamp(x, k.min, k.max)), k.zero_point);
  }
  // Per 128-bit lane L: channels 16L + 0..7 as words, then 8..15, then all 16 as bytes.
  V::store(out + c, mask, V::packus16(V::packs32(q[0], q[1]), V::packs32(q[2], q[3])));
}

}  // namespace

LOOKOUT_VNNI void DepthwiseConv3x3::run_rows_vnni(const uint8_t* input, int64_t input_row, uint8_t* output,
                                                  int64_t output_row, int64_t row_begin, int64_t row_end) const {
  const Constants<Zmm> wide = constants<Zmm>(requantization_, sum_factor_);
  const Constants<Ymm> narrow = constants<Ymm>(requantization_, sum_factor_);
  const DepthwiseShape& s = shape_;
  const int64_t channels = s.channels;
  const int64_t block_bytes = int64_t{kQuads} * kVnniChannels * 4;
  const int32_t full_blocks = last_width_ == kVnniChannels ? blocks_ : blocks_ - 1;
  Taps walk(*this, input, input_row);
  for (int64_t row = row_begin; row < row_end; ++row) {  // row = batch * out_h + oy
    walk.start_row(row);
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const uint8_t* const* taps = walk.next();
      uint8_t* out = output + ((row - output_row) * s.out_w + ox) * channels;
      for (int32_t b = 0; b < blocks_; ++b) {
        const int64_t c = int64_t{b} * kVnniChannels;
        const int8_t* w = packed_quads_.data() + b * block_bytes;
        const int32_t* column = column_.data() + c;
        if (b < full_blocks)
          step<Zmm>(taps, c, std::min<int64_t>(kVnniChannels, channels - c), w, column, out, wide);
        else
          step<Ymm>(taps, c, channels - c, w, column, out, narrow);
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
