// CONV_2D: TFLite's reference convolution (tensorflow/lite/kernels/internal/
// reference/conv.h), uint8 and float32. Input NHWC, filter [out_c, kh, kw,
// in_c], optional bias [out_c]. Taps that fall outside the image contribute
// nothing (zero padding in real terms).
//
// uint8, per output value:
//   acc = sum over (ky, kx, ic) inside the image of
//         (input + input_offset) * (filter + filter_offset)  + bias
//   out = requantize(acc)
// with offsets = -zero_point. requantize is XNNPACK's fp32 scheme, as TFLite's
// runtime (XNNPACK delegate) runs the op: round-half-even of
// float(acc) * (input_scale * filter_scale / output_scale, in float), plus
// the output zero point, clamped to the fused activation's range. For scales
// XNNPACK refuses it is TFLite's builtin fixed-point arithmetic instead
// (ConvRequantization in conv_common.h).
//
// float32: the same sum in float, in TFLite's order (ky, kx, ic; bias last),
// clamped to the fused activation's range. One loop nest serves both types;
// what differs is in Uint8ConvArithmetic and FloatConvArithmetic.
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
class Conv2d final : public Kernel {
  using T = typename Arithmetic::Value;
  using Filter = typename Arithmetic::Filter;
  using Acc = typename Arithmetic::Acc;

 public:
  Conv2d(const ConvParams& p, std::vector<Filter> filter, std::vector<Acc> bias)
      : p_(p), w_(p), filter_(std::move(filter)), bias_(std::move(bias)) {}

  void eval(const TensorBuffers& buffers) const override {
    const T* input = buffers.in<T>(p_.input);
    T* output = buffers.out<T>(p_.output);
    const ConvWindow& w = w_;
    const Arithmetic arithmetic(p_);
    const int64_t taps = w.k_h * w.k_w * w.in_c;  // filter values per output channel
    for (int64_t b = 0; b < w.batches; ++b) {
      for (int64_t oy = 0; oy < w.out_h; ++oy) {
        const int64_t in_y0 = oy * w.stride_h - w.pad_top;
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          const int64_t in_x0 = ox * w.stride_w - w.pad_left;
          T* out = output + ((b * w.out_h + oy) * w.out_w + ox) * w.out_c;
          for (int64_t oc = 0; oc < w.out_c; ++oc) {
            const Filter* filter_oc = filter_.data() + oc * taps;
            Acc acc = 0;  // summed in TFLite's order: ky, kx, ic; bias last
            for (int64_t ky = 0; ky < w.k_h; ++ky) {
              const int64_t in_y = in_y0 + ky * w.dilation_h;
              if (in_y < 0 || in_y >= w.in_h) continue;
              for (int64_t kx = 0; kx < w.k_w; ++kx) {
                const int64_t in_x = in_x0 + kx * w.dilation_w;
                if (in_x < 0 || in_x >= w.in_w) continue;
                const T* x = input + ((b * w.in_h + in_y) * w.in_w + in_x) * w.in_c;
                const Filter* f = filter_oc + (ky * w.k_w + kx) * w.in_c;
                for (int64_t ic = 0; ic < w.in_c; ++ic) acc += arithmetic.product(x[ic], f[ic]);
              }
            }
            acc += bias_[static_cast<size_t>(oc)];
            out[oc] = arithmetic.finish(acc);
          }
        }
      }
    }
  }

 private:
  ConvParams p_;
  ConvWindow w_;
  std::vector<Filter> filter_;  // [out_c, kh, kw, in_c]; uint8: filter + filter_offset
  std::vector<Acc> bias_;       // zeros when the op has no bias
};

}  // namespace

std::unique_ptr<Kernel> prepare_conv_2d(const OpContext& ctx) {
  const ConvParams p = prepare_conv_params(ctx, /*depthwise=*/false);
  const Tensor& filter = ctx.input(kConvFilter);
  const size_t out_c = static_cast<size_t>(p.out_c);
  const size_t taps = filter.elements() / out_c;

  if (p.type == DType::float32)
    return std::make_unique<Conv2d<FloatConvArithmetic>>(p, conv_detail::copy_constant<float>(filter),
                                                          conv_detail::bias_or_zeros<float>(ctx, p));

  std::vector<int32_t> bias = conv_detail::bias_or_zeros<int32_t>(ctx, p);
  std::vector<int16_t> filter_values(filter.elements());
  const uint8_t* constant = filter.constant;
  for (size_t i = 0; i < filter_values.size(); ++i)
    filter_values[i] = static_cast<int16_t>(int32_t{constant[i]} + p.filter_offset);
  const std::vector<int64_t> abs_sum = filter_abs_sums(filter.constant, out_c, taps, p.filter_offset);
  require_accumulator_fits(ctx, p, abs_sum, bias.data());
  return std::make_unique<Conv2d<Uint8ConvArithmetic>>(p, std::move(filter_values), std::move(bias));
}

}  // namespace lookout::engine
