// Lookout's inference engine: runs a TensorFlow Lite model (the SSD MobileNet
// family: CONV_2D, DEPTHWISE_CONV_2D, ADD, RESHAPE, CONCATENATION, LOGISTIC
// and TFLite_Detection_PostProcess, uint8 or float32) on a reference backend
// (plain C++, TFLite's semantics) or on XNNPACK.
//
// Lifecycle, as in XNNPACK: load a Model once (immutable, shareable between
// threads), create an Engine per thread, then fill input(), invoke(), read
// the outputs. An Engine is not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace lookout::engine {

// Every refusal (bad model file, unsupported op, bad option) is an Error
// whose message names the thing, the value and the rule broken.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
  Backend backend = Backend::xnnpack;
  int threads = 1;
};

// The four outputs of the detection post-process op, as TFLite emits them.
struct Detections {
  struct Box { float ymin, xmin, ymax, xmax; };  // normalized [0,1]
  std::vector<Box> boxes;      // `count` entries
  std::vector<int> classes;    // 0-based class index (coco_labels.txt id)
  std::vector<float> scores;
  int count = 0;
};

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

  // Raw bytes of any tensor after invoke() (activations, outputs, constants);
  // tests compare intermediates across backends with this.
  std::span<const uint8_t> tensor_data(int32_t index) const;
  // Graph outputs 0..3 read as detections; throws if the model has no
  // detection post-process outputs.
  Detections detections() const;

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace lookout::engine
