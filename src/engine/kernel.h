// The reference kernels' interface. Each op lives in ops/<op>.cc with the
// TFLite split: prepare_<op>() checks shapes, types and options and
// precomputes (quantized multipliers, lookup tables, activation ranges) into
// a Kernel; Kernel::eval() only does arithmetic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"

namespace lookout::engine {

// One data pointer per graph tensor for one execution.
class TensorBuffers {
 public:
  explicit TensorBuffers(size_t tensors) : ptr_(tensors, nullptr) {}
  void set(int32_t tensor, uint8_t* data) { ptr_.at(static_cast<size_t>(tensor)) = data; }
  uint8_t* raw(int32_t tensor) const { return ptr_[static_cast<size_t>(tensor)]; }
  template <class T> const T* in(int32_t tensor) const { return reinterpret_cast<const T*>(raw(tensor)); }
  template <class T> T* out(int32_t tensor) const { return reinterpret_cast<T*>(raw(tensor)); }

 private:
  std::vector<uint8_t*> ptr_;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void eval(const TensorBuffers& buffers) const = 0;
  // Which of its ISA level's forms the kernel took, where the level has more
  // than one (avx2's pointwise convolution: "bytes" or "words"), else "".
  // The profile names it (OpProfile::kernel).
  virtual std::string form() const { return ""; }
};

// What prepare_<op>() sees: the graph, the op, the ISA level of the run
// (isa.h; a kernel with a SIMD twin of its plain loop, the byte tables,
// picks it from this; xnnpack, the reference backend's, means the plain
// loop), and error helpers that put "op #N NAME: " in front of every message.
class OpContext {
 public:
  OpContext(const Graph& graph, const Operator& op, size_t index, Isa isa = Isa::xnnpack)
      : graph_(graph), op_(op), index_(index), isa_(isa) {}

  const Graph& graph() const { return graph_; }
  const Operator& op() const { return op_; }
  Isa isa() const { return isa_; }
  size_t num_inputs() const { return op_.inputs.size(); }
  size_t num_outputs() const { return op_.outputs.size(); }
  const Tensor& input(size_t i) const;   // throws if absent (-1)
  const Tensor& output(size_t i) const;
  int32_t input_index(size_t i) const { return op_.inputs.at(i); }
  int32_t output_index(size_t i) const { return op_.outputs.at(i); }

  [[noreturn]] void fail(const std::string& rule) const;
  void require(bool ok, const std::string& rule) const { if (!ok) fail(rule); }
  // Common checks, each naming the tensor and the value that broke the rule.
  void require_inputs(size_t n) const;  // exactly n inputs, n outputs checked separately
  void require_outputs(size_t n) const;
  void require_type(const Tensor& t, DType type) const;
  void require_rank(const Tensor& t, size_t rank) const;
  void require_constant(const Tensor& t) const;
  void require_same_shape(const Tensor& a, const Tensor& b) const;
  void require_quantized(const Tensor& t) const;  // uint8 with scale > 0

 private:
  const Graph& graph_;
  const Operator& op_;
  size_t index_;
  Isa isa_;
};

// "input tensor 'x' (uint8 [1,300,300,3])", for messages.
std::string describe_tensor(const std::string& role, const Tensor& t);

using PrepareFn = std::unique_ptr<Kernel> (*)(const OpContext&);

std::unique_ptr<Kernel> prepare_add(const OpContext& ctx);
std::unique_ptr<Kernel> prepare_concatenation(const OpContext& ctx);
std::unique_ptr<Kernel> prepare_conv_2d(const OpContext& ctx);
std::unique_ptr<Kernel> prepare_depthwise_conv_2d(const OpContext& ctx);
std::unique_ptr<Kernel> prepare_logistic(const OpContext& ctx);
std::unique_ptr<Kernel> prepare_reshape(const OpContext& ctx);
std::unique_ptr<Kernel> prepare_detection_postprocess(const OpContext& ctx);

// Dispatch on op.kind; `isa` as in OpContext.
std::unique_ptr<Kernel> prepare_kernel(const Graph& graph, size_t op_index, Isa isa = Isa::xnnpack);

}  // namespace lookout::engine
