// A backend's executable form of a Graph. The base class owns one buffer per
// non-constant tensor (constants point into the Model); a backend prepares its
// kernels at construction and runs them in invoke().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"
#include "engine/kernel.h"

namespace lookout::engine {

// The time one step of invoke() took, summed over calls.
struct StepProfile {
  std::vector<size_t> ops;  // op indices the step runs
  // avx512vnni, avxvnni, avx2 (+ " bytes" or " words": Kernel::form), xnnpack
  // or reference; a fused block's + " block"
  std::string kernel;
  double ms = 0;
  int64_t runs = 0;
};

class Runtime {
 public:
  // With `profiling`, invoke() times each step (profile()).
  Runtime(const Graph& graph, bool profiling);
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
  // One entry per step, in invoke() order; empty unless profiling.
  const std::vector<StepProfile>& profile() const { return profile_; }

 protected:
  bool profiling() const { return profiling_; }
  void add_profile_step(std::vector<size_t> ops, std::string kernel) {
    if (profiling_) profile_.push_back(StepProfile{std::move(ops), std::move(kernel)});
  }
  // Runs step `index` (`run()`), timing it when profiling.
  template <class Run>
  void run_step(size_t index, Run&& run) {
    if (!profiling_) {
      run();
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    run();
    profile_[index].ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++profile_[index].runs;
  }

 private:
  bool profiling_;
  std::vector<StepProfile> profile_;
  const Graph& graph_;
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> arena_;
  TensorBuffers buffers_;
};

// Plain C++ kernels, the oracle. Single-threaded whatever `threads` says.
std::unique_ptr<Runtime> create_reference_runtime(const Graph& graph, bool profiling = false);
// XNNPACK subgraphs for the ops it supports, reference kernels for the rest;
// at ISA level avx2, avxvnni or avx512vnni (which the CPU must have) the ops our own
// kernels take run on them instead (plan_xnnpack_stages). Profiling puts
// every XNNPACK op in its own subgraph, so each is timed alone.
std::unique_ptr<Runtime> create_xnnpack_runtime(const Graph& graph, int threads, Isa isa, bool profiling = false);

}  // namespace lookout::engine
