// What our own convolution kernels (pointwise_conv.h, depthwise_conv.h)
// share as ops: the checks before them and their Kernel wrapper.
#pragma once

#include <pthreadpool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"
#include "engine/kernel.h"

namespace lookout::engine {

// The tensor at position `pos` of `ids`, or nullptr when absent or out of range.
const Tensor* tensor_at(const Graph& graph, const std::vector<int32_t>& ids, size_t pos);

// Why op `op_index` is not a `kind` convolution our kernels can take, or "":
// uint8, convolution options, input, filter and output present, dilation 1,
// XNNPACK's fp32 requantization. The kernel's own shape rules come on top.
std::string own_conv_refusal(const Graph& graph, size_t op_index, OpKind kind);

// Why `isa` cannot run our kernels here, or "".
std::string own_isa_refusal(Isa isa);

// A convolution object with run(input, output, threadpool) as a Kernel.
template <class Conv>
class OwnConvKernel final : public Kernel {
 public:
  OwnConvKernel(int32_t input, int32_t output, Conv conv, pthreadpool_t threadpool)
      : input_(input), output_(output), conv_(std::move(conv)), threadpool_(threadpool) {}

  void eval(const TensorBuffers& buffers) const override {
    conv_.run(buffers.in<uint8_t>(input_), buffers.out<uint8_t>(output_), threadpool_);
  }
  std::string form() const override {
    if constexpr (requires { conv_.form(); })
      return conv_.form();
    else
      return "";
  }

 private:
  int32_t input_, output_;
  Conv conv_;
  pthreadpool_t threadpool_;
};

}  // namespace lookout::engine
