// Fixed-seed random graphs built in memory (an OpFixture's), and filling a
// runtime's inputs: for the tests that run whole graphs through runtimes.
#pragma once

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/graph.h"
#include "engine/op_fixture.h"
#include "engine/runtime.h"

namespace lookout::engine::testing {

inline Quantization quant(float scale, int32_t zero_point) { return Quantization{scale, zero_point}; }

inline int32_t conv_out_size(int32_t in, int32_t k, int32_t stride, int32_t dilation, Padding padding) {
  const int32_t effective = (k - 1) * dilation + 1;
  return padding == Padding::same ? (in + stride - 1) / stride : (in - effective) / stride + 1;
}

// Builds random graphs into an OpFixture; every value comes from one seeded
// generator, so each test sees the same data on every run.
class GraphBuilder {
 public:
  GraphBuilder(OpFixture& f, DType type, uint32_t seed) : f_(f), type_(type), rng_(seed) {}

  int32_t input(std::vector<int32_t> shape, Quantization q = quant(1.0f / 128.0f, 128)) {
    const int32_t id = f_.tensor(type_, std::move(shape), type_ == DType::uint8 ? q : Quantization{});
    f_.graph.inputs.push_back(id);
    return id;
  }

  struct Conv {
    int32_t out_c = 8;  // ignored for depthwise (in_c * depth_multiplier)
    int32_t k = 3;
    int32_t stride = 1;
    int32_t dilation = 1;
    Padding padding = Padding::same;
    Activation activation = Activation::none;
    bool depthwise = false;
    int32_t depth_multiplier = 1;
    bool bias = true;
    // uint8: output scale = input scale x this (0: a random factor in
    // [0.5, 2]); outputs spread about `spread` steps around the zero point.
    float output_scale_factor = 0.0f;
    float spread = 32.0f;
  };

  // A convolution with random weights and bias.
  int32_t conv(int32_t in, const Conv& c) {
    const Tensor input = f_.graph.tensors[static_cast<size_t>(in)];
    const int32_t in_c = input.dim(3);
    const int32_t out_c = c.depthwise ? in_c * c.depth_multiplier : c.out_c;
    const std::vector<int32_t> filter_shape =
        c.depthwise ? std::vector<int32_t>{1, c.k, c.k, out_c} : std::vector<int32_t>{out_c, c.k, c.k, in_c};
    const int32_t out_h = conv_out_size(input.dim(1), c.k, c.stride, c.dilation, c.padding);
    const int32_t out_w = conv_out_size(input.dim(2), c.k, c.stride, c.dilation, c.padding);
    const int32_t taps = c.k * c.k * (c.depthwise ? 1 : in_c);
    const size_t filter_size = static_cast<size_t>(filter_shape[0] * c.k * c.k * filter_shape[3]);

    std::vector<int32_t> inputs{in};
    int32_t out = -1;
    if (type_ == DType::uint8) {
      // The output scale stays near the input's (as in a trained network);
      // the filter scale is chosen so that outputs spread about c.spread
      // steps around the zero point: each tap adds about 74 x 74 accumulator
      // units of spread (uniform uint8 values around their zero points).
      const Quantization oq =
          quant(input.quant.scale * (c.output_scale_factor > 0.0f ? c.output_scale_factor : uniform_real(0.5f, 2.0f)),
                uniform_int(90, 140));
      const float accumulator_spread = std::sqrt(static_cast<float>(taps)) * 74.0f * 74.0f;
      const Quantization fq = quant(c.spread * oq.scale / (accumulator_spread * input.quant.scale), uniform_int(100, 150));
      inputs.push_back(f_.constant(DType::uint8, filter_shape, random_bytes(filter_size), fq));
      const float bias_scale = input.quant.scale * fq.scale;
      if (c.bias) inputs.push_back(f_.constant(DType::int32, {out_c}, random_ints(out_c, -3000, 3000), quant(bias_scale, 0)));
      out = f_.tensor(DType::uint8, {input.dim(0), out_h, out_w, out_c}, oq);
    } else {
      inputs.push_back(f_.constant(DType::float32, filter_shape, random_floats(filter_size, -0.5f, 0.5f)));
      if (c.bias) inputs.push_back(f_.constant(DType::float32, {out_c}, random_floats(static_cast<size_t>(out_c), -0.5f, 0.5f)));
      out = f_.tensor(DType::float32, {input.dim(0), out_h, out_w, out_c});
    }
    ConvOptions options;
    options.padding = c.padding;
    options.stride_h = options.stride_w = c.stride;
    options.dilation_h = options.dilation_w = c.dilation;
    options.depth_multiplier = c.depth_multiplier;
    options.activation = c.activation;
    f_.op(c.depthwise ? OpKind::depthwise_conv_2d : OpKind::conv_2d, inputs, {out}, options);
    return out;
  }

  int32_t add(int32_t a, int32_t b, Quantization out_q, Activation activation = Activation::none) {
    const Tensor& t = f_.graph.tensors[static_cast<size_t>(a)];
    const int32_t out = f_.tensor(type_, t.shape, type_ == DType::uint8 ? out_q : Quantization{});
    f_.op(OpKind::add, {a, b}, {out}, AddOptions{activation});
    return out;
  }

  int32_t reshape(int32_t in, std::vector<int32_t> shape) {
    const Tensor& t = f_.graph.tensors[static_cast<size_t>(in)];
    const int32_t out = f_.tensor(t.type, std::move(shape), t.quant);
    f_.op(OpKind::reshape, {in}, {out});
    return out;
  }

  std::vector<uint8_t> random_bytes(size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& x : v) x = static_cast<uint8_t>(uniform_int(0, 255));
    return v;
  }
  std::vector<float> random_floats(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  // Raw bytes for a tensor of this builder's type.
  std::vector<uint8_t> random_data(const Tensor& t) {
    if (t.type == DType::uint8) return random_bytes(t.bytes);
    const std::vector<float> f = random_floats(t.elements(), -1.0f, 1.0f);
    std::vector<uint8_t> bytes(t.bytes);
    std::memcpy(bytes.data(), f.data(), t.bytes);
    return bytes;
  }

 private:
  int32_t uniform_int(int32_t lo, int32_t hi) { return std::uniform_int_distribution<int32_t>(lo, hi)(rng_); }
  float uniform_real(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }
  std::vector<int32_t> random_ints(int32_t n, int32_t lo, int32_t hi) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = uniform_int(lo, hi);
    return v;
  }

  OpFixture& f_;
  DType type_;
  std::mt19937 rng_;
};

inline void fill_inputs(const Graph& g, Runtime& rt, const std::vector<std::vector<uint8_t>>& data) {
  for (size_t i = 0; i < g.inputs.size(); ++i)
    std::memcpy(rt.data(g.inputs[i]), data[i].data(), data[i].size());
}

inline std::vector<std::vector<uint8_t>> random_inputs(const Graph& g, GraphBuilder& b) {
  std::vector<std::vector<uint8_t>> data;
  for (int32_t id : g.inputs) data.push_back(b.random_data(g.tensors[static_cast<size_t>(id)]));
  return data;
}

}  // namespace lookout::engine::testing
