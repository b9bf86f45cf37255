// TFLite's fixed-point requantization helpers (tensorflow/lite/kernels/
// internal/common.h and quantization_util.cc semantics), shared by the
// uint8 reference kernels.
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace lookout::engine {

// real_multiplier = quantized_multiplier * 2^(shift - 31), quantized_multiplier
// in [2^30, 2^31); 0 for real_multiplier == 0.
struct QuantizedMultiplier {
  int32_t multiplier = 0;
  int shift = 0;  // > 0: left shift
};

QuantizedMultiplier quantize_multiplier(double real_multiplier);

// gemmlowp's SaturatingRoundingDoublingHighMul: (a*b*2 + 2^31) >> 32, rounded
// to nearest, the one overflow case (INT32_MIN * INT32_MIN) saturated.
int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b);
// gemmlowp's RoundingDivideByPOT: x / 2^exponent, rounding half away from zero.
int32_t rounding_divide_by_pot(int32_t x, int exponent);
// TFLite's MultiplyByQuantizedMultiplier: x * real_multiplier, rounded.
int32_t multiply_by_quantized_multiplier(int32_t x, QuantizedMultiplier m);

// The output range a fused activation leaves for a uint8 tensor with this
// quantization: [0,255] intersected with the activation's real range.
struct Range32 { int32_t min, max; };
Range32 activation_range_uint8(Activation act, Quantization q);
struct RangeF { float min, max; };
RangeF activation_range_float(Activation act);

}  // namespace lookout::engine
