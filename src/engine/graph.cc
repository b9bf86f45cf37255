#include "engine/graph.h"

namespace lookout::engine {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::uint8: return "uint8";
    case DType::int32: return "int32";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::float32: return 4;
    case DType::uint8: return 1;
    case DType::int32: return 4;
  }
  return 0;
}

std::string shape_string(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

size_t Tensor::elements() const {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::add: return "ADD";
    case OpKind::concatenation: return "CONCATENATION";
    case OpKind::conv_2d: return "CONV_2D";
    case OpKind::depthwise_conv_2d: return "DEPTHWISE_CONV_2D";
    case OpKind::logistic: return "LOGISTIC";
    case OpKind::reshape: return "RESHAPE";
    case OpKind::detection_postprocess: return "TFLite_Detection_PostProcess";
  }
  return "?";
}

}  // namespace lookout::engine
