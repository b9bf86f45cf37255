// Lookout's inference engine: runs a TensorFlow Lite model (the SSD MobileNet
// family: CONV_2D, DEPTHWISE_CONV_2D, ADD, RESHAPE, CONCATENATION, LOGISTIC
// and TFLite_Detection_PostProcess, uint8 or float32) on a reference backend
// (plain C++, TFLite's semantics) or on XNNPACK with our own x86 kernels for
// the ops they cover, at the ISA level the CPU runs (isa.h).
//
// Lifecycle, as in XNNPACK: load a Model once (immutable, shareable between
// threads), create an Engine per thread, then fill input(), invoke(), read
// the outputs. An Engine is not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/isa.h"

namespace lookout::engine {

// A verified model: the file's bytes plus the Graph decoded from them.
class Model {
 public:
  static std::shared_ptr<const Model> from_file(const std::filesystem::path& path);
  static std::shared_ptr<const Model> from_bytes(std::vector<uint8_t> bytes);

  const Graph& graph() const { return graph_; }

 private:
  std::vector<uint8_t> bytes_;  // constants in graph_ point into this
  Graph graph_;
};

enum class Backend { reference, xnnpack };
const char* backend_name(Backend b);
Backend parse_backend(const std::string& name);  // throws Error

struct Options {
  Options() = default;
  Options(Backend backend, int threads) : backend(backend), threads(threads) {}

  Backend backend = Backend::xnnpack;
  int threads = 1;
  // The xnnpack backend's level of our own kernels; unset: default_isa()
  // ($LOOKOUT_ISA or the best the CPU runs).
  std::optional<Isa> isa;
  // Time every op (XNNPACK ops each in a subgraph of their own): profile().
  bool profile = false;
};

// Time spent in one step of invoke(), summed over calls.
struct OpProfile {
  std::vector<size_t> ops;  // op indices run together (one step)
  // avx512vnni, avxvnni, avx2 (+ " bytes" or " words": Kernel::form), xnnpack
  // or reference; a fused block's + " block"
  std::string kernel;
  double ms = 0;
  int64_t runs = 0;
  int64_t macs = 0;  // multiply-accumulates per run (convolutions)
};

// Multiply-accumulates of op `op_index` per run (0 for ops without any).
int64_t op_macs(const Graph& graph, size_t op_index);

class Runtime;  // one implementation per backend (runtime.h)

class Engine {
 public:
  Engine(std::shared_ptr<const Model> model, Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return *model_; }
  const Tensor& input_tensor() const;
  // The input buffer, input_tensor().bytes long (uint8 or float32 data).
  std::span<uint8_t> input();
  void invoke();
  // The ISA level of our kernels in use (xnnpack for the reference backend's
  // engines too: they run none of ours).
  Isa isa() const { return isa_; }
  // Per step, in invoke() order; empty unless Options::profile.
  std::vector<OpProfile> profile() const;

  // Raw bytes of any tensor after invoke() (activations, outputs, constants);
  // tests compare intermediates across backends with this.
  std::span<const uint8_t> tensor_data(int32_t index) const;
  // The tensor of graph output `position` and its bytes after invoke().
  const Tensor& output_tensor(size_t position) const;
  std::span<const uint8_t> output(size_t position) const;

 private:
  std::shared_ptr<const Model> model_;
  Isa isa_ = Isa::xnnpack;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace lookout::engine
