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
#include <algorithm>
#include <memory>
#include <vector>

#include "engine/kernel.h"
#include "engine/ops/conv_common.h"
#include "engine/quantization.h"

namespace lookout::engine {

namespace {

class Conv2dUint8 final : public Kernel {
 public:
  Conv2dUint8(const ConvParams& p, std::vector<int16_t> filter, std::vector<int32_t> bias)
      : p_(p), w_(p), filter_(std::move(filter)), bias_(std::move(bias)) {}

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* input = buffers.in<uint8_t>(p_.input);
    uint8_t* output = buffers.out<uint8_t>(p_.output);
    const ConvWindow& w = w_;
    const int64_t taps = w.k_h * w.k_w * w.in_c;  // filter values per output channel
    const auto input_offset = static_cast<int16_t>(p_.input_offset);
    const ConvRequantization& requantization = p_.requantization;
    for (int64_t b = 0; b < w.batches; ++b) {
      for (int64_t oy = 0; oy < w.out_h; ++oy) {
        const int64_t in_y0 = oy * w.stride_h - w.pad_top;
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          const int64_t in_x0 = ox * w.stride_w - w.pad_left;
          uint8_t* out = output + ((b * w.out_h + oy) * w.out_w + ox) * w.out_c;
          for (int64_t oc = 0; oc < w.out_c; ++oc) {
            const int16_t* filter_oc = filter_.data() + oc * taps;
            int32_t acc = 0;
            for (int64_t ky = 0; ky < w.k_h; ++ky) {
              const int64_t in_y = in_y0 + ky * w.dilation_h;
              if (in_y < 0 || in_y >= w.in_h) continue;
              for (int64_t kx = 0; kx < w.k_w; ++kx) {
                const int64_t in_x = in_x0 + kx * w.dilation_w;
                if (in_x < 0 || in_x >= w.in_w) continue;
                const uint8_t* x = input + ((b * w.in_h + in_y) * w.in_w + in_x) * w.in_c;
                const int16_t* f = filter_oc + (ky * w.k_w + kx) * w.in_c;
                // Both factors fit int16 ([-255, 255]): a widening
                // multiply-add the compiler vectorizes.
                for (int64_t ic = 0; ic < w.in_c; ++ic)
                  acc += static_cast<int32_t>(static_cast<int16_t>(x[ic] + input_offset)) * f[ic];
              }
            }
            acc += bias_[static_cast<size_t>(oc)];
            out[oc] = requantization.apply(acc);
          }
        }
      }
    }
  }

 private:
  ConvParams p_;
  ConvWindow w_;
  std::vector<int16_t> filter_;  // filter + filter_offset, [out_c, kh, kw, in_c]
  std::vector<int32_t> bias_;    // zeros when the op has no bias
};

class Conv2dFloat final : public Kernel {
 public:
  Conv2dFloat(const ConvParams& p, std::vector<float> filter, std::vector<float> bias)
      : p_(p), w_(p), filter_(std::move(filter)), bias_(std::move(bias)) {}

  void eval(const TensorBuffers& buffers) const override {
    const float* input = buffers.in<float>(p_.input);
    float* output = buffers.out<float>(p_.output);
    const ConvWindow& w = w_;
    const int64_t taps = w.k_h * w.k_w * w.in_c;
    for (int64_t b = 0; b < w.batches; ++b) {
      for (int64_t oy = 0; oy < w.out_h; ++oy) {
        const int64_t in_y0 = oy * w.stride_h - w.pad_top;
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          const int64_t in_x0 = ox * w.stride_w - w.pad_left;
          float* out = output + ((b * w.out_h + oy) * w.out_w + ox) * w.out_c;
          for (int64_t oc = 0; oc < w.out_c; ++oc) {
            const float* filter_oc = filter_.data() + oc * taps;
            float total = 0.0f;  // summed in TFLite's order: ky, kx, ic; bias last
            for (int64_t ky = 0; ky < w.k_h; ++ky) {
              const int64_t in_y = in_y0 + ky * w.dilation_h;
              if (in_y < 0 || in_y >= w.in_h) continue;
              for (int64_t kx = 0; kx < w.k_w; ++kx) {
                const int64_t in_x = in_x0 + kx * w.dilation_w;
                if (in_x < 0 || in_x >= w.in_w) continue;
                const float* x = input + ((b * w.in_h + in_y) * w.in_w + in_x) * w.in_c;
                const float* f = filter_oc + (ky * w.k_w + kx) * w.in_c;
                for (int64_t ic = 0; ic < w.in_c; ++ic) total += x[ic] * f[ic];
              }
            }
            total += bias_[static_cast<size_t>(oc)];
            out[oc] = std::min(std::max(total, p_.range_f.min), p_.range_f.max);
          }
        }
      }
    }
  }

 private:
  ConvParams p_;
  ConvWindow w_;
  std::vector<float> filter_;  // [out_c, kh, kw, in_c]
  std::vector<float> bias_;    // zeros when the op has no bias
};

}  // namespace

std::unique_ptr<Kernel> prepare_conv_2d(const OpContext& ctx) {
  const ConvParams p = prepare_conv_params(ctx, /*depthwise=*/false);
  const Tensor& filter = ctx.input(kConvFilter);
  const size_t out_c = static_cast<size_t>(p.out_c);
  const size_t taps = filter.elements() / out_c;

  if (p.type == DType::float32) {
    std::vector<float> bias =
        p.bias >= 0 ? conv_detail::copy_constant<float>(ctx.input(kConvBias)) : std::vector<float>(out_c, 0.0f);
    return std::make_unique<Conv2dFloat>(p, conv_detail::copy_constant<float>(filter), std::move(bias));
  }

  std::vector<int32_t> bias =
      p.bias >= 0 ? conv_detail::copy_constant<int32_t>(ctx.input(kConvBias)) : std::vector<int32_t>(out_c, 0);
  std::vector<int16_t> filter_values(filter.elements());
  std::vector<int64_t> abs_sum(out_c, 0);
  for (size_t oc = 0; oc < out_c; ++oc) {
    for (size_t i = oc * taps; i < (oc + 1) * taps; ++i) {
      const int32_t v = int32_t{filter.constant[i]} + p.filter_offset;
      filter_values[i] = static_cast<int16_t>(v);
      abs_sum[oc] += v < 0 ? -v : v;
    }
  }
  require_accumulator_fits(ctx, p, abs_sum, bias.data());
  return std::make_unique<Conv2dUint8>(p, std::move(filter_values), std::move(bias));
}

}  // namespace lookout::engine
