// Internal to the depthwise convolution (depthwise_conv.h): one output pixel's
// step over a block of channels through vpdpbusd, written once for every
// vector type V the dot-product levels use (depthwise_vnni.cc: zmm and ymm
// with AVX-512 masks; depthwise_avxvnni.cc: ymm with VEX encoding). Each of
// those files defines LOOKOUT_DEPTHWISE_TARGET, its target attribute, before
// including this header and puts it on its V's functions too, so each
// instantiation is compiled for that file's instructions only (per-function
// target attributes, as everywhere in the engine).
//
// V provides: I (integer vector), F (float vector), Tail (which channels a
// step holds), kWidth (channels per step), tail(valid), load(tail, p) (zeros
// past the tail), load(p), zero(), set_i8/set_i32/set_f32, unpacklo8/
// unpackhi8/unpacklo16/unpackhi16, dpbusd(acc, u8, s8), add, mullo,
// to_float, to_int, mul, clamp(x, lo, hi), packs32, packus16 and
// store(p, tail, v) (only the tail's bytes).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/depthwise_conv.h"
#include "engine/quantization.h"

#if !defined(LOOKOUT_DEPTHWISE_TARGET)
#error "define LOOKOUT_DEPTHWISE_TARGET (the including file's target attribute) before including depthwise_step.h"
#endif

namespace lookout::engine::depthwise_detail {

#if defined(__x86_64__)
// The 256-bit operations, compiled for AVX2 alone (a subset of every
// including file's target, so they inline into it): the AVX-VNNI step's
// (depthwise_avxvnni.cc adds its dpbusd encoding) and the AVX2 kernel's
// (depthwise_conv.cc).
struct YmmOps {
  using I = __m256i;
  using F = __m256;
  static constexpr int kWidth = 32;
#define LOOKOUT_YMM_OPS __attribute__((target("avx2")))
  LOOKOUT_YMM_OPS static I load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  LOOKOUT_YMM_OPS static I zero() { return _mm256_setzero_si256(); }
  LOOKOUT_YMM_OPS static I set_i8(int8_t v) { return _mm256_set1_epi8(v); }
  LOOKOUT_YMM_OPS static I set_i32(int32_t v) { return _mm256_set1_epi32(v); }
  LOOKOUT_YMM_OPS static F set_f32(float v) { return _mm256_set1_ps(v); }
  LOOKOUT_YMM_OPS static I unpacklo8(I a, I b) { return _mm256_unpacklo_epi8(a, b); }
  LOOKOUT_YMM_OPS static I unpackhi8(I a, I b) { return _mm256_unpackhi_epi8(a, b); }
  LOOKOUT_YMM_OPS static I unpacklo16(I a, I b) { return _mm256_unpacklo_epi16(a, b); }
  LOOKOUT_YMM_OPS static I unpackhi16(I a, I b) { return _mm256_unpackhi_epi16(a, b); }
  LOOKOUT_YMM_OPS static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  LOOKOUT_YMM_OPS static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  LOOKOUT_YMM_OPS static F to_float(I a) { return _mm256_cvtepi32_ps(a); }
  LOOKOUT_YMM_OPS static I to_int(F a) { return _mm256_cvtps_epi32(a); }
  LOOKOUT_YMM_OPS static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  LOOKOUT_YMM_OPS static F clamp(F x, F lo, F hi) { return _mm256_min_ps(_mm256_max_ps(x, lo), hi); }
  LOOKOUT_YMM_OPS static I packs32(I a, I b) { return _mm256_packs_epi32(a, b); }
  LOOKOUT_YMM_OPS static I packus16(I a, I b) { return _mm256_packus_epi16(a, b); }

  // A block's channel tail, with no AVX-512 masks: loads and stores go by
  // 16-byte halves, a partial half through a zeroed buffer. A tail of 16 or
  // more (the model's 144 channels: 16) moves its first 16 bytes directly.
  using Tail = int64_t;  // valid channels
  LOOKOUT_YMM_OPS static Tail tail(int64_t valid) { return valid; }
  LOOKOUT_YMM_OPS static __m128i load16(const uint8_t* p, int64_t valid) {
    if (valid >= 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    alignas(16) uint8_t buffer[16] = {};
    std::memcpy(buffer, p, static_cast<size_t>(valid));
    return _mm_load_si128(reinterpret_cast<const __m128i*>(buffer));
  }
  LOOKOUT_YMM_OPS static void store16(uint8_t* p, int64_t valid, __m128i v) {
    if (valid >= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
      return;
    }
    alignas(16) uint8_t buffer[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(buffer), v);
    std::memcpy(p, buffer, static_cast<size_t>(valid));
  }
  LOOKOUT_YMM_OPS static I load(Tail valid, const uint8_t* p) {
    if (valid >= kWidth) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m128i low = load16(p, valid);
    return valid <= 16 ? _mm256_zextsi128_si256(low) : _mm256_set_m128i(load16(p + 16, valid - 16), low);
  }
  LOOKOUT_YMM_OPS static void store(uint8_t* p, Tail valid, I v) {
    if (valid >= kWidth) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
      return;
    }
    store16(p, valid, _mm256_castsi256_si128(v));
    if (valid > 16) store16(p + 16, valid - 16, _mm256_extracti128_si256(v, 1));
  }
#undef LOOKOUT_YMM_OPS
};
#endif

// The constants of one vector type: the requantization's
// (Fp32Requantization), the byte sum's ones and factor.
template <class V>
struct Constants {
  typename V::F scale, min, max;
  typename V::I zero_point, ones, sum_factor;
};

template <class V>
LOOKOUT_DEPTHWISE_TARGET inline Constants<V> constants(const Fp32Requantization& r, int32_t sum_factor) {
  return {V::set_f32(r.scale),      V::set_f32(r.min_less_zero_point), V::set_f32(r.max_less_zero_point),
          V::set_i32(r.zero_point), V::set_i8(1),                      V::set_i32(sum_factor)};
}

// One pixel's `valid` channels from channel c (<= V::kWidth): `w` the
// block's packed quads, `column` its column constants (both in lane order,
// depthwise_conv.h).
template <class V>
LOOKOUT_DEPTHWISE_TARGET inline void step(const uint8_t* const* taps, int64_t c, int64_t valid, const int8_t* w,
                                          const int32_t* column, uint8_t* out, const Constants<V>& k) {
  using I = typename V::I;
  constexpr int kQuads = DepthwiseConv3x3::kQuads;
  constexpr int kTaps = DepthwiseConv3x3::kTaps;
  constexpr int kVector = V::kWidth / 4;  // int32 lanes per vector
  const typename V::Tail tail = V::tail(valid);
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
    for (int i = 0; i < 4; ++i) t[i] = 4 * q + i < kTaps ? V::load(tail, taps[4 * q + i] + c) : V::zero();
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
  V::store(out + c, tail, V::packus16(V::packs32(q[0], q[1]), V::packs32(q[2], q[3])));
}

}  // namespace lookout::engine::depthwise_detail

namespace lookout::engine {

// Blocks of Wide::kWidth channels, all Wide steps but a
// last one of 32 channels (last_width_), a Narrow step.
template <class Wide, class Narrow>
LOOKOUT_DEPTHWISE_TARGET void DepthwiseConv3x3::run_rows_dot(const uint8_t* input, int64_t input_row,
                                                             uint8_t* output, int64_t output_row, int64_t row_begin,
                                                             int64_t row_end) const {
  using depthwise_detail::constants;
  using depthwise_detail::step;
  const depthwise_detail::Constants<Wide> wide = constants<Wide>(requantization_, sum_factor_);
  const depthwise_detail::Constants<Narrow> narrow = constants<Narrow>(requantization_, sum_factor_);
  const int64_t channels = shape_.channels;
  constexpr int64_t kBlock = Wide::kWidth;
  constexpr int64_t kBlockBytes = int64_t{kQuads} * kBlock * 4;
  const int32_t full_blocks = last_width_ == kBlock ? blocks_ : blocks_ - 1;
  Taps walk(*this, input, input_row);
  for (int64_t row = row_begin; row < row_end; ++row) {  // row = batch * out_h + oy
    walk.start_row(row);
    for (int64_t ox = 0; ox < shape_.out_w; ++ox) {
      const uint8_t* const* taps = walk.next();
      uint8_t* out = output + ((row - output_row) * shape_.out_w + ox) * channels;
      for (int32_t b = 0; b < blocks_; ++b) {
        const int64_t c = int64_t{b} * kBlock;
        const int8_t* w = packed_quads_.data() + b * kBlockBytes;
        const int32_t* column = column_.data() + c;
        if (b < full_blocks)
          step<Wide>(taps, c, std::min<int64_t>(kBlock, channels - c), w, column, out, wide);
        else
          step<Narrow>(taps, c, channels - c, w, column, out, narrow);
      }
    }
  }
}

}  // namespace lookout::engine
