// Builds a one-op (or few-op) Graph in memory, prepares its kernels through
// the same dispatch the engine uses, and runs them on buffers the test fills.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "engine/graph.h"
#include "engine/kernel.h"

namespace lookout::engine::testing {

class OpFixture {
 public:
  // A tensor whose data the test sets (activation) or that is constant.
  int32_t tensor(DType type, std::vector<int32_t> shape, Quantization q = {}) {
    Tensor t;
    t.name = "t" + std::to_string(graph.tensors.size());
    t.type = type;
    t.shape = std::move(shape);
    t.quant = q;
    t.bytes = t.elements() * dtype_size(type);
    graph.tensors.push_back(t);
    storage_.push_back(std::make_unique<uint8_t[]>(t.bytes + 1));
    return static_cast<int32_t>(graph.tensors.size() - 1);
  }
  template <class T>
  int32_t constant(DType type, std::vector<int32_t> shape, const std::vector<T>& values, Quantization q = {}) {
    const int32_t id = tensor(type, std::move(shape), q);
    set(id, values);
    graph.tensors[static_cast<size_t>(id)].constant = storage_.back().get();
    return id;
  }
  template <class T>
  void set(int32_t id, const std::vector<T>& values) {
    const Tensor& t = graph.tensors.at(static_cast<size_t>(id));
    if (values.size() * sizeof(T) != t.bytes) throw std::runtime_error("OpFixture::set: size mismatch for " + t.name);
    std::memcpy(storage_[static_cast<size_t>(id)].get(), values.data(), t.bytes);
  }
  template <class T>
  std::vector<T> get(int32_t id) const {
    const Tensor& t = graph.tensors.at(static_cast<size_t>(id));
    std::vector<T> out(t.bytes / sizeof(T));
    std::memcpy(out.data(), storage_[static_cast<size_t>(id)].get(), t.bytes);
    return out;
  }
  void op(OpKind kind, std::vector<int32_t> inputs, std::vector<int32_t> outputs, OpOptions options = {}) {
    graph.ops.push_back(Operator{kind, std::move(inputs), std::move(outputs), std::move(options)});
  }
  // Prepares every op (throws what prepare throws), then evaluates them in order.
  void run() {
    TensorBuffers buffers(graph.tensors.size());
    for (size_t i = 0; i < storage_.size(); ++i) buffers.set(static_cast<int32_t>(i), storage_[i].get());
    std::vector<std::unique_ptr<Kernel>> kernels;
    for (size_t i = 0; i < graph.ops.size(); ++i) kernels.push_back(prepare_kernel(graph, i));
    for (auto& k : kernels) k->eval(buffers);
  }
  void prepare_only() {
    for (size_t i = 0; i < graph.ops.size(); ++i) prepare_kernel(graph, i);
  }

  Graph graph;

 private:
  std::vector<std::unique_ptr<uint8_t[]>> storage_;
};

}  // namespace lookout::engine::testing
