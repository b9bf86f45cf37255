// Requantization helpers shared by the uint8 reference kernels, in two
// schemes:
//
// - XNNPACK's quint8 arithmetic, which is what TensorFlow Lite's runtime
//   executes by default (its XNNPACK delegate) for CONV_2D,
//   DEPTHWISE_CONV_2D and ADD, and what our XNNPACK backend runs. This is the
//   spec for those ops whenever XNNPACK accepts their scales. Source: google/
//   XNNPACK at the Debian snapshot 0.0~git20220216.ae108ef (src/params-init.c
//   xnn_init_qu8_conv_minmax_fp32_*_params and xnn_init_qu8_add_minmax_*_params,
//   src/operators/convolution-nhwc.c and binary-elementwise-nd.c, the qu8-gemm,
//   qu8-dwconv and qu8-vadd microkernels), checked bit for bit against that
//   library on random and tie-heavy cases.
// - TFLite's builtin fixed-point arithmetic (tensorflow/lite/kernels/internal/
//   common.h and quantization_util.cc), which TFLite falls back to for an op
//   its XNNPACK delegate does not take (a convolution scale of 256 or more, an
//   ADD scale ratio outside [2^-10, 2^8)).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/graph.h"

namespace lookout::engine {

// ---------------------------------------------------------------------------
// TFLite's builtin fixed-point arithmetic.

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
// quantization, TFLite's builtin way (CalculateActivationRangeQuantized):
// [0,255] intersected with zero_point + round(real bound / scale), in double
// with halves away from zero.
struct Range32 { int32_t min, max; };
Range32 activation_range_uint8(Activation act, Quantization q);
struct RangeF { float min, max; };
RangeF activation_range_float(Activation act);

// A uint8 convolution's requantization as TFLite's builtin kernels do it:
// clamp(multiply_by_quantized_multiplier(acc, M) + zero_point, range), M =
// input_scale * filter_scale / output_scale in double.
struct FixedPointRequantization {
  QuantizedMultiplier multiplier;
  int32_t zero_point = 0;
  Range32 range{0, 255};

  uint8_t apply(int32_t acc) const {
    const int32_t v = multiply_by_quantized_multiplier(acc, multiplier) + zero_point;
    return static_cast<uint8_t>(std::clamp(v, range.min, range.max));
  }
};

// ---------------------------------------------------------------------------
// XNNPACK's quint8 arithmetic.

// XNNPACK's limits on quint8 scales (xnn_create_convolution2d_nhwc_qu8,
// xnn_create_add_nd_qu8), which TFLite's delegate also checks for ADD.
constexpr float kXnnMaxConvScale = 256.0f;            // input*filter/output below this
constexpr float kXnnMinAddScaleRatio = 0x1.0p-10f;    // each input/output scale ratio
constexpr float kXnnMaxAddScaleRatio = 0x1.0p+8f;     // in [2^-10, 2^8)

// The convolution requantization scale as XNNPACK computes it, in float:
// (input_scale * filter_scale) rounded to float, then / output_scale rounded
// to float. A double computation differs in the last bit for some scales.
float xnn_conv_scale(float input_scale, float filter_scale, float output_scale);
// True when XNNPACK runs a quint8 convolution with these scales: all normal
// floats and xnn_conv_scale below kXnnMaxConvScale.
bool xnn_conv_supported(float input_scale, float filter_scale, float output_scale);
// True when XNNPACK runs a quint8 ADD with these scales: all normal floats and
// both input/output ratios (float divisions) in [2^-10, 2^8).
bool xnn_add_supported(float input1_scale, float input2_scale, float output_scale);

// The output range a fused activation leaves, XNNPACK's way: TFLite's
// delegate passes the activation's real bounds (none: [-inf, +inf], ReLU:
// [0, +inf], ReLU6: [0, 6], ReLU_N1_TO_1: [-1, 1]) and XNNPACK's subgraph
// quantizes each as lrintf(min(max(bound / scale + zero_point, 0), 255)), all
// in float, ties to even. It can differ from activation_range_uint8 by one
// where bound / scale is within float error of a half.
Range32 xnn_activation_range_uint8(Activation act, Quantization q);

// XNNPACK's "fp32" requantization of a quint8 convolution or depthwise
// convolution accumulator (the int32 sum of (x - x_zp) * (w - w_zp) plus the
// bias, exact in every kernel):
//   x = float(acc) * scale              int32 -> float rounds to nearest even
//                                       past 2^24, as cvtdq2ps; one float multiply
//   x = clamp(x, min - zp, max - zp)    in float, before rounding, so the
//                                       conversion cannot overflow
//   out = lrintf(x) + zp                round half to even (the default mode),
//                                       as cvtps2dq and the magic-bias variants
// Some kernels round first (cvtps2dq) and clamp after, in saturating
// int16/uint8 steps; since the bounds are integers the result is the same.
// (XNNPACK's ARM NEON builds use "rndnu" fixed-point kernels instead, which
// round differently: the spec is the x86 and WebAssembly behaviour.)
struct Fp32Requantization {
  float scale = 0.0f;
  float min_less_zero_point = 0.0f, max_less_zero_point = 0.0f;
  int32_t zero_point = 0;

  Fp32Requantization() = default;
  // scale as xnn_conv_scale gives it; range within [0, 255].
  Fp32Requantization(float scale, int32_t zero_point, Range32 range)
      : scale(scale),
        min_less_zero_point(static_cast<float>(range.min - zero_point)),
        max_less_zero_point(static_cast<float>(range.max - zero_point)),
        zero_point(zero_point) {}

  uint8_t apply(int32_t acc) const {
    float x = static_cast<float>(acc) * scale;
    x = std::min(std::max(x, min_less_zero_point), max_less_zero_point);
    return static_cast<uint8_t>(static_cast<int32_t>(std::lrintf(x)) + zero_point);
  }
};

// XNNPACK's quint8 ADD (xnn_init_qu8_add_minmax_*_params and the qu8-vadd
// kernels): with ratio_a = a_scale / output_scale and ratio_b likewise (float
// divisions), shift = 20 - floor(log2(max(ratio_a, ratio_b))) in [13, 30],
// each multiplier = lrintf(ratio * 2^shift) (the larger in [2^20, 2^21)), and
//   acc = bias + a * a_multiplier + b * b_multiplier,
//         bias = -(a_multiplier * a_zp + b_multiplier * b_zp)
//   out = clamp(((acc + 2^(shift-1)) >> shift) + zp, min, max)
// The arithmetic shift makes halves round up, toward +infinity: -1.5 -> -1.
// |acc| < 2^30, so nothing overflows.
struct XnnAddRequantization {
  int32_t a_multiplier = 0, b_multiplier = 0;
  int32_t bias = 0;
  int32_t rounding = 0;  // 2^(shift - 1)
  int shift = 0;
  int32_t zero_point = 0;
  Range32 range{0, 255};

  uint8_t apply(uint8_t a, uint8_t b) const {
    const int32_t acc = bias + a_multiplier * int32_t{a} + b_multiplier * int32_t{b};
    const int32_t v = ((acc + rounding) >> shift) + zero_point;
    return static_cast<uint8_t>(std::clamp(v, range.min, range.max));
  }
};

// The parameters for output = a + b; `range` is the output clamp (from
// xnn_activation_range_uint8). Throws std::domain_error unless
// xnn_add_supported(a.scale, b.scale, output.scale).
XnnAddRequantization xnn_add_requantization(Quantization a, Quantization b, Quantization output, Range32 range);

}  // namespace lookout::engine
