// A backend's executable form of a Graph. The base class owns one buffer per
// non-constant tensor (constants point into the Model); a backend prepares its
// kernels at construction and runs them in invoke().
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/graph.h"
#include "engine/kernel.h"

namespace lookout::engine {

class Runtime {
 public:
  explicit Runtime(const Graph& graph);
  virtual ~Runtime() = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  virtual void invoke() = 0;
  // False for tensors that live only inside a fused backend subgraph (their
  // buffer is never written); the engine then reports no data for them.
  virtual bool materialized(int32_t /*tensor*/) const { return true; }

  uint8_t* data(int32_t tensor) const { return buffers_.raw(tensor); }
  const TensorBuffers& buffers() const { return buffers_; }
  const Graph& graph() const { return graph_; }

 private:
  const Graph& graph_;
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> arena_;
  TensorBuffers buffers_;
};

// Plain C++ kernels, the oracle. Single-threaded whatever `threads` says.
std::unique_ptr<Runtime> create_reference_runtime(const Graph& graph);
// XNNPACK subgraphs for the ops it supports, reference kernels for the rest;
// with `vnni_pointwise` (and a CPU with AVX-512 VNNI) the uint8 1x1
// convolutions run on our VNNI kernel instead (plan_xnnpack_stages).
std::unique_ptr<Runtime> create_xnnpack_runtime(const Graph& graph, int threads, bool vnni_pointwise = true);

}  // namespace lookout::engine
