// The 3x3 depthwise convolution's AVX-VNNI kernel (depthwise_conv.h): the
// step of depthwise_step.h on ymm with the VEX-encoded vpdpbusd; with no
// AVX-512 masks, a block's channel tail loads and stores by halves, a
// partial half through a zeroed buffer.
// Only the functions marked LOOKOUT_AVXVNNI are compiled for AVX2 + AVX-VNNI
// (per-function target attribute; no AVX-512); they run only where
// isa_available(avxvnni).
#include "engine/depthwise_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "engine/error.h"
#include "engine/quantization.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define LOOKOUT_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define LOOKOUT_DEPTHWISE_TARGET LOOKOUT_AVXVNNI
#include "engine/depthwise_step.h"

namespace lookout::engine {
namespace {

struct Vex : depthwise_detail::YmmOps {
  using Tail = int64_t;  // valid channels
  LOOKOUT_AVXVNNI static Tail tail(int64_t valid) { return valid; }
  // A tail of 16 or more (the model's 144 channels: 16) loads and stores its
  // first 16 bytes directly; only the rest goes through a buffer.
  LOOKOUT_AVXVNNI static __m128i load16(const uint8_t* p, int64_t valid) {
    if (valid >= 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    alignas(16) uint8_t buffer[16] = {};
    std::memcpy(buffer, p, static_cast<size_t>(valid));
    return _mm_load_si128(reinterpret_cast<const __m128i*>(buffer));
  }
  LOOKOUT_AVXVNNI static void store16(uint8_t* p, int64_t valid, __m128i v) {
    if (valid >= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
      return;
    }
    alignas(16) uint8_t buffer[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(buffer), v);
    std::memcpy(p, buffer, static_cast<size_t>(valid));
  }
  LOOKOUT_AVXVNNI static I load(Tail valid, const uint8_t* p) {
    if (valid == kWidth) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m128i low = load16(p, valid);
    return valid <= 16 ? _mm256_zextsi128_si256(low) : _mm256_set_m128i(load16(p + 16, valid - 16), low);
  }
  using YmmOps::load;
  LOOKOUT_AVXVNNI static void store(uint8_t* p, Tail valid, I v) {
    if (valid == kWidth) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
      return;
    }
    store16(p, valid, _mm256_castsi256_si128(v));
    if (valid > 16) store16(p + 16, valid - 16, _mm256_extracti128_si256(v, 1));
  }
  LOOKOUT_AVXVNNI static I dpbusd(I acc, I u8, I s8) { return _mm256_dpbusd_avx_epi32(acc, u8, s8); }
};

}  // namespace

LOOKOUT_AVXVNNI void DepthwiseConv3x3::run_rows_avxvnni(const uint8_t* input, int64_t input_row, uint8_t* output,
                                                        int64_t output_row, int64_t row_begin,
                                                        int64_t row_end) const {
  run_rows_dot<Vex, Vex>(input, input_row, output, output_row, row_begin, row_end);
}

}  // namespace lookout::engine


#else

namespace lookout::engine {

void DepthwiseConv3x3::run_rows_avxvnni(const uint8_t*, int64_t, uint8_t*, int64_t, int64_t, int64_t) const {
  throw Error("the AVX-VNNI depthwise kernel is not built for this architecture");
}

}  // namespace lookout::engine

#endif  // __x86_64__
