// DEPTHWISE_CONV_2D: TFLite's reference depthwise convolution (tensorflow/
// lite/kernels/internal/reference/depthwiseconv_uint8.h and _float.h), uint8
// and float32. Input NHWC [n, h, w, in_c], filter [1, kh, kw, out_c] with
// out_c = in_c * depth_multiplier; output channel oc = ic * depth_multiplier
// + m reads input channel ic only. Taps outside the image contribute nothing.
//
// uint8, per output value:
//   acc = sum over (ky, kx) inside the image of
//         (input[ic] + input_offset) * (filter[oc] + filter_offset)  + bias
//   out = requantize(acc)
// requantize is the one CONV_2D uses (ConvRequantization in conv_common.h):
// XNNPACK's fp32 scheme, as TFLite's runtime (XNNPACK delegate) runs the op,
// or TFLite's builtin fixed point for scales XNNPACK refuses. float32: the
// same sum in float, bias last, clamped to the fused activation's range. One
// loop nest serves both types (Uint8ConvArithmetic, FloatConvArithmetic).
//
// The loops run channels innermost (each output pixel keeps one accumulator
// per output channel) so the hot loop is contiguous in input, filter and
// accumulator; each channel still sums its taps in TFLite's (ky, kx) order.
#include <algorithm>
#include <memory>
#include <vector>

#include "engine/kernel.h"
#include "engine/ops/conv_common.h"
#include "engine/quantization.h"

namespace lookout::engine {

namespace {

// Arithmetic: Uint8ConvArithmetic or FloatConvArithmetic (conv_common.h).
template <class Arithmetic>
class DepthwiseConv2d final : public Kernel {
  using T = typename Arithmetic::Value;
  using Filter = typename Arithmetic::Filter;
  using Acc = typename Arithmetic::Acc;

 public:
  DepthwiseConv2d(const ConvParams& p, std::vector<Filter> filter, std::vector<Acc> bias)
      : p_(p), w_(p), filter_(std::move(filter)), bias_(std::move(bias)) {}

  void eval(const TensorBuffers& buffers) const override {
    const T* input = buffers.in<T>(p_.input);
    T* output = buffers.out<T>(p_.output);
    const ConvWindow& w = w_;
    const Arithmetic arithmetic(p_);
    const int64_t depth_multiplier = p_.options.depth_multiplier;
    std::vector<Acc> acc(static_cast<size_t>(w.out_c));
    for (int64_t b = 0; b < w.batches; ++b) {
      for (int64_t oy = 0; oy < w.out_h; ++oy) {
        const int64_t in_y0 = oy * w.stride_h - w.pad_top;
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          const int64_t in_x0 = ox * w.stride_w - w.pad_left;
          std::fill(acc.begin(), acc.end(), Acc{0});
          for (int64_t ky = 0; ky < w.k_h; ++ky) {
            const int64_t in_y = in_y0 + ky * w.dilation_h;
            if (in_y < 0 || in_y >= w.in_h) continue;
            for (int64_t kx = 0; kx < w.k_w; ++kx) {
              const int64_t in_x = in_x0 + kx * w.dilation_w;
              if (in_x < 0 || in_x >= w.in_w) continue;
              const T* x = input + ((b * w.in_h + in_y) * w.in_w + in_x) * w.in_c;
              const Filter* f = filter_.data() + (ky * w.k_w + kx) * w.out_c;
              Acc* a = acc.data();
              if (depth_multiplier == 1) {  // the same sums, in a loop the compiler vectorizes
                for (int64_t c = 0; c < w.in_c; ++c) a[c] += arithmetic.product(x[c], f[c]);
              } else {
                for (int64_t ic = 0; ic < w.in_c; ++ic) {
                  for (int64_t m = 0; m < depth_multiplier; ++m) {
                    const int64_t oc = ic * depth_multiplier + m;
                    a[oc] += arithmetic.product(x[ic], f[oc]);
                  }
                }
              }
            }
          }
          T* out = output + ((b * w.out_h + oy) * w.out_w + ox) * w.out_c;
          for (size_t oc = 0; oc < acc.size(); ++oc) out[oc] = arithmetic.finish(acc[oc] + bias_[oc]);  // bias last
        }
      }
    }
  }

 private:
  ConvParams p_;
  ConvWindow w_;
  std::vector<Filter> filter_;  // [kh, kw, out_c]; uint8: filter + filter_offset
  std::vector<Acc> bias_;       // zeros when the op has no bias
};

}  // namespace

std::unique_ptr<Kernel> prepare_depthwise_conv_2d(const OpContext& ctx) {
  const ConvParams p = prepare_conv_params(ctx, /*depthwise=*/true);
  const Tensor& filter = ctx.input(kConvFilter);
  const size_t out_c = static_cast<size_t>(p.out_c);

  if (p.type == DType::float32)
    return std::make_unique<DepthwiseConv2d<FloatConvArithmetic>>(p, conv_detail::copy_constant<float>(filter),
                                                                   conv_detail::bias_or_zeros<float>(ctx, p));

  std::vector<int32_t> bias = conv_detail::bias_or_zeros<int32_t>(ctx, p);
  std::vector<int16_t> filter_values(filter.elements());
  std::vector<int64_t> abs_sum(out_c, 0);
  for (size_t i = 0; i < filter_values.size(); ++i) {  // channel is the innermost dimension
    const int32_t v = int32_t{filter.constant[i]} + p.filter_offset;
    filter_values[i] = static_cast<int16_t>(v);
    abs_sum[i % out_c] += v < 0 ? -v : v;
  }
  require_accumulator_fits(ctx, p, abs_sum, bias.data());
  return std::make_unique<DepthwiseConv2d<Uint8ConvArithmetic>>(p, std::move(filter_values), std::move(bias));
}

}  // namespace lookout::engine
