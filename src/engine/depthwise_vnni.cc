// The 3x3 depthwise convolution's AVX-512 VNNI kernel (depthwise_conv.h):
// the step of depthwise_step.h on zmm, and on ymm for a last block of 32
// channels or fewer, with AVX-512 masked loads and stores for channel tails.
// Only the functions marked LOOKOUT_VNNI are compiled for AVX-512
// (per-function target attribute); they run only where
// isa_available(avx512vnni).
//
// Per output pixel and 64 channels: per quad of taps, four loads, eight
// unpacks, and eight vpdpbusd (the filter, and ones for the byte sum); then
// the correction, the requantization of four vectors and three packs.
#include "engine/depthwise_conv.h"

#include <algorithm>
#include <cstdint>

#include "engine/error.h"
#include "engine/quantization.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define LOOKOUT_DEPTHWISE_TARGET LOOKOUT_VNNI
#include "engine/depthwise_step.h"

namespace lookout::engine {
namespace {

struct Zmm {
  using I = __m512i;
  using F = __m512;
  using Tail = __mmask64;
  static constexpr int kWidth = 64;
  LOOKOUT_VNNI static Tail tail(int64_t valid) { return valid == kWidth ? ~Tail{0} : (Tail{1} << valid) - 1; }
  LOOKOUT_VNNI static I load(Tail m, const uint8_t* p) { return _mm512_maskz_loadu_epi8(m, p); }
  LOOKOUT_VNNI static I load(const void* p) { return _mm512_loadu_si512(p); }
  LOOKOUT_VNNI static void store(uint8_t* p, Tail m, I v) { _mm512_mask_storeu_epi8(p, m, v); }
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
};

struct Ymm : depthwise_detail::YmmOps {  // AVX-512 VL: EVEX-encoded ymm with masks
  using Tail = __mmask32;
  LOOKOUT_VNNI static Tail tail(int64_t valid) { return valid == kWidth ? ~Tail{0} : (Tail{1} << valid) - 1; }
  LOOKOUT_VNNI static I load(Tail m, const uint8_t* p) { return _mm256_maskz_loadu_epi8(m, p); }
  using YmmOps::load;
  LOOKOUT_VNNI static void store(uint8_t* p, Tail m, I v) { _mm256_mask_storeu_epi8(p, m, v); }
  LOOKOUT_VNNI static I dpbusd(I acc, I u8, I s8) { return _mm256_dpbusd_epi32(acc, u8, s8); }
};

}  // namespace

LOOKOUT_VNNI void DepthwiseConv3x3::run_rows_vnni(const uint8_t* input, int64_t input_row, uint8_t* output,
                                                  int64_t output_row, int64_t row_begin, int64_t row_end) const {
  run_rows_dot<Zmm, Ymm>(input, input_row, output, output_row, row_begin, row_end);
}

}  // namespace lookout::engine


#else

namespace lookout::engine {

void DepthwiseConv3x3::run_rows_vnni(const uint8_t*, int64_t, uint8_t*, int64_t, int64_t, int64_t) const {
  throw Error("the AVX-512 VNNI depthwise kernel is not built for this architecture");
}

}  // namespace lookout::engine

#endif  // __x86_64__
