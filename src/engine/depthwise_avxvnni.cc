// The 3x3 depthwise convolution's AVX-VNNI kernel (depthwise_conv.h): the
// step of depthwise_step.h on ymm (its tails by 16-byte halves, YmmOps) with
// the VEX-encoded vpdpbusd.
// Only the functions marked LOOKOUT_AVXVNNI are compiled for AVX2 + AVX-VNNI
// (per-function target attribute; no AVX-512); they run only where
// isa_available(avxvnni).
#include "engine/depthwise_conv.h"

#include <cstdint>

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
