// The engine's in-memory form of a TFLite model: tensors and operators with
// their options decoded and checked. The model reader (model.cc) is the only
// code that touches the flatbuffer; everything after it works on this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace lookout::engine {

enum class DType { float32, uint8, int32 };

const char* dtype_name(DType t);
// "[1,300,300,3]", for messages.
std::string shape_string(const std::vector<int32_t>& shape);
size_t dtype_size(DType t);

// Per-tensor affine quantization: real = scale * (q - zero_point).
struct Quantization {
  float scale = 0.0f;
  int32_t zero_point = 0;
};

struct Tensor {
  std::string name;
  DType type = DType::float32;
  std::vector<int32_t> shape;
  Quantization quant;           // meaningful for uint8 tensors (and int32 biases)
  const uint8_t* constant = nullptr;  // weights/biases: points into Model storage
  size_t bytes = 0;             // elements() * dtype_size(type)

  size_t elements() const;
  int32_t dim(size_t i) const { return shape.at(i); }
  bool is_constant() const { return constant != nullptr; }
};

enum class OpKind {
  add,
  concatenation,
  conv_2d,
  depthwise_conv_2d,
  logistic,
  reshape,
  detection_postprocess,
};

const char* op_name(OpKind k);

enum class Padding { same, valid };
enum class Activation { none, relu, relu_n1_to_1, relu6 };

struct ConvOptions {
  Padding padding = Padding::same;
  int32_t stride_w = 1, stride_h = 1;
  int32_t dilation_w = 1, dilation_h = 1;
  int32_t depth_multiplier = 1;  // depthwise only
  Activation activation = Activation::none;
};

struct AddOptions {
  Activation activation = Activation::none;
};

struct ConcatenationOptions {
  int32_t axis = 0;
  Activation activation = Activation::none;
};

// TFLite_Detection_PostProcess, decoded from its FlexBuffer custom options.
struct PostProcessOptions {
  int32_t max_detections = 0;
  int32_t max_classes_per_detection = 1;
  int32_t detections_per_class = 100;   // regular NMS only
  bool use_regular_nms = false;
  float nms_score_threshold = 0.0f;
  float nms_iou_threshold = 0.0f;
  int32_t num_classes = 0;
  float y_scale = 0.0f, x_scale = 0.0f, h_scale = 0.0f, w_scale = 0.0f;
};

using OpOptions = std::variant<std::monostate, ConvOptions, AddOptions,
                               ConcatenationOptions, PostProcessOptions>;

struct Operator {
  OpKind kind;
  std::vector<int32_t> inputs;   // tensor indices; -1 = optional input absent
  std::vector<int32_t> outputs;
  OpOptions options;
};

struct Graph {
  std::vector<Tensor> tensors;
  std::vector<Operator> ops;      // in execution order
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
};

}  // namespace lookout::engine
