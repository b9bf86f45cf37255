// The model reader: verifies a .tflite flatbuffer and decodes it into a
// Graph. Everything a hostile file could get wrong is checked here (or in the
// ops' prepare, which load also runs), so the backends can trust the Graph.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "engine/engine.h"
#include "engine/kernel.h"
#include "engine/ops/detection_postprocess.h"
#include "tflite_generated.h"

namespace lookout::engine {

namespace {

// Caps that no SSD-sized model comes near; they keep a hostile file from
// asking for absurd allocations.
constexpr size_t kMaxTensors = 100000;
constexpr size_t kMaxOps = 100000;
constexpr size_t kMaxRank = 8;
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 31;
constexpr uint64_t kMaxActivationBytes = uint64_t{1} << 32;

[[noreturn]] void fail(const std::string& msg) { throw Error(msg); }

std::string tensor_label(const tflite::Tensor* t, size_t index) {
  std::string s = "tensor #" + std::to_string(index);
  if (t && t->name()) s += " '" + t->name()->str() + "'";
  return s;
}

DType decode_type(tflite::TensorType type, const std::string& where) {
  switch (type) {
    case tflite::TensorType::FLOAT32: return DType::float32;
    case tflite::TensorType::UINT8: return DType::uint8;
    case tflite::TensorType::INT32: return DType::int32;
    default: break;
  }
  const char* name = tflite::EnumNameTensorType(type);
  fail(where + " has type " + (name && *name ? name : std::to_string(static_cast<int>(type))) +
       ", which Lookout does not support (supported: float32, uint8, int32)");
}

Activation decode_activation(tflite::ActivationFunctionType a, const std::string& where) {
  switch (a) {
    case tflite::ActivationFunctionType::NONE: return Activation::none;
    case tflite::ActivationFunctionType::RELU: return Activation::relu;
    case tflite::ActivationFunctionType::RELU_N1_TO_1: return Activation::relu_n1_to_1;
    case tflite::ActivationFunctionType::RELU6: return Activation::relu6;
    default: break;
  }
  fail(where + ": fused activation " + std::to_string(static_cast<int>(a)) +
       " is not supported (supported: NONE, RELU, RELU_N1_TO_1, RELU6)");
}

Padding decode_padding(tflite::Padding p, const std::string& where) {
  switch (p) {
    case tflite::Padding::SAME: return Padding::same;
    case tflite::Padding::VALID: return Padding::valid;
  }
  fail(where + ": padding " + std::to_string(static_cast<int>(p)) + " is neither SAME nor VALID");
}

Tensor decode_tensor(const tflite::Model* model, const tflite::Tensor* t, size_t index) {
  const std::string where = tensor_label(t, index);
  Tensor out;
  out.name = t->name() ? t->name()->str() : "#" + std::to_string(index);
  out.type = decode_type(t->type(), where);
  if (t->is_variable()) fail(where + " is a variable tensor; Lookout runs stateless models only");

  if (t->shape()) {
    if (t->shape()->size() > kMaxRank)
      fail(where + " has rank " + std::to_string(t->shape()->size()) + ", more than " + std::to_string(kMaxRank));
    uint64_t elements = 1;
    for (int32_t d : *t->shape()) {
      if (d < 1) fail(where + " has dimension " + std::to_string(d) + "; every dimension must be >= 1");
      elements *= static_cast<uint64_t>(d);
      if (elements * dtype_size(out.type) > kMaxTensorBytes)
        fail(where + " is larger than " + std::to_string(kMaxTensorBytes) + " bytes");
      out.shape.push_back(d);
    }
  }
  out.bytes = out.elements() * dtype_size(out.type);

  if (const auto* q = t->quantization()) {
    const size_t scales = q->scale() ? q->scale()->size() : 0;
    const size_t zero_points = q->zero_point() ? q->zero_point()->size() : 0;
    if (scales > 1 || zero_points > 1)
      fail(where + " has per-channel quantization (" + std::to_string(scales) +
           " scales); Lookout supports per-tensor quantization only");
    if (scales == 1) {
      out.quant.scale = q->scale()->Get(0);
      if (!std::isfinite(out.quant.scale) || out.quant.scale < 0.0f)
        fail(where + " has quantization scale " + std::to_string(out.quant.scale) + "; it must be finite and >= 0");
    }
    if (zero_points == 1) {
      const int64_t zp = q->zero_point()->Get(0);
      if (zp < std::numeric_limits<int32_t>::min() || zp > std::numeric_limits<int32_t>::max())
        fail(where + " has zero point " + std::to_string(zp) + ", outside int32");
      out.quant.zero_point = static_cast<int32_t>(zp);
    }
  }

  const uint32_t buffer_index = t->buffer();
  const auto* buffers = model->buffers();
  const size_t num_buffers = buffers ? buffers->size() : 0;
  if (buffer_index >= num_buffers && buffer_index != 0)
    fail(where + " refers to buffer " + std::to_string(buffer_index) + ", but the model has " +
         std::to_string(num_buffers) + " buffers");
  if (buffer_index != 0 && buffer_index < num_buffers) {
    const tflite::Buffer* b = buffers->Get(buffer_index);
    if (b->offset() != 0 || b->size() != 0)
      fail(where + " keeps its data outside the flatbuffer (offset/size buffers); Lookout reads self-contained files only");
    if (b->data() && b->data()->size() > 0) {
      if (b->data()->size() != out.bytes)
        fail(where + " has " + std::to_string(b->data()->size()) + " bytes of data, but its shape and type need " +
             std::to_string(out.bytes));
      const uint8_t* data = b->data()->data();
      if (reinterpret_cast<uintptr_t>(data) % dtype_size(out.type) != 0)
        fail(where + " has data that is not aligned for " + dtype_name(out.type));
      out.constant = data;
    }
  }
  return out;
}

OpKind decode_op_kind(const tflite::OperatorCode* code, size_t op_index) {
  // Newer files put the code in builtin_code, older ones in the deprecated
  // byte; TFLite takes the larger of the two.
  const int32_t builtin = std::max(static_cast<int32_t>(code->deprecated_builtin_code()),
                                   static_cast<int32_t>(code->builtin_code()));
  switch (static_cast<tflite::BuiltinOperator>(builtin)) {
    case tflite::BuiltinOperator::ADD: return OpKind::add;
    case tflite::BuiltinOperator::CONCATENATION: return OpKind::concatenation;
    case tflite::BuiltinOperator::CONV_2D: return OpKind::conv_2d;
    case tflite::BuiltinOperator::DEPTHWISE_CONV_2D: return OpKind::depthwise_conv_2d;
    case tflite::BuiltinOperator::LOGISTIC: return OpKind::logistic;
    case tflite::BuiltinOperator::RESHAPE: return OpKind::reshape;
    case tflite::BuiltinOperator::CUSTOM: {
      const std::string custom = code->custom_code() ? code->custom_code()->str() : "";
      if (custom == kDetectionPostProcessCustomCode) return OpKind::detection_postprocess;
      fail("op #" + std::to_string(op_index) + " is the custom op '" + custom +
           "', which Lookout does not support (supported custom op: " + kDetectionPostProcessCustomCode + ")");
    }
    default: break;
  }
  const char* name = tflite::EnumNameBuiltinOperator(static_cast<tflite::BuiltinOperator>(builtin));
  fail("op #" + std::to_string(op_index) + " is the builtin operator " +
       (name && *name ? std::string(name) : "with code " + std::to_string(builtin)) +
       ", which Lookout does not support (supported: ADD, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D, "
       "LOGISTIC, RESHAPE, TFLite_Detection_PostProcess)");
}

std::vector<int32_t> decode_indices(const flatbuffers::Vector<int32_t>* v, size_t num_tensors,
                                    const std::string& where, bool allow_absent) {
  std::vector<int32_t> out;
  if (!v) return out;
  for (int32_t i : *v) {
    const bool absent_ok = allow_absent && i == -1;
    if (!absent_ok && (i < 0 || static_cast<size_t>(i) >= num_tensors))
      fail(where + " refers to tensor " + std::to_string(i) + ", but the model has " +
           std::to_string(num_tensors) + " tensors");
    out.push_back(i);
  }
  return out;
}

// The fields Conv2DOptions and DepthwiseConv2DOptions share. Table: either
// flatbuffer table; fails, naming it, when the op has none.
template <class Table>
ConvOptions decode_conv_options(const Table* o, const char* table, const std::string& where) {
  if (!o) fail(where + " has no " + table);
  ConvOptions c;
  c.padding = decode_padding(o->padding(), where);
  c.stride_w = o->stride_w();
  c.stride_h = o->stride_h();
  c.dilation_w = o->dilation_w_factor();
  c.dilation_h = o->dilation_h_factor();
  c.activation = decode_activation(o->fused_activation_function(), where);
  return c;
}

OpOptions decode_options(const tflite::Operator* op, OpKind kind, const std::string& where) {
  switch (kind) {
    case OpKind::conv_2d:
      return decode_conv_options(op->builtin_options_as_Conv2DOptions(), "Conv2DOptions", where);
    case OpKind::depthwise_conv_2d: {
      const auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
      ConvOptions c = decode_conv_options(o, "DepthwiseConv2DOptions", where);
      c.depth_multiplier = o->depth_multiplier();
      return c;
    }
    case OpKind::add: {
      AddOptions a;
      if (const auto* o = op->builtin_options_as_AddOptions())
        a.activation = decode_activation(o->fused_activation_function(), where);
      return a;
    }
    case OpKind::concatenation: {
      const auto* o = op->builtin_options_as_ConcatenationOptions();
      if (!o) fail(where + " has no ConcatenationOptions");
      ConcatenationOptions c;
      c.axis = o->axis();
      c.activation = decode_activation(o->fused_activation_function(), where);
      return c;
    }
    case OpKind::detection_postprocess: {
      if (op->custom_options_format() != tflite::CustomOptionsFormat::FLEXBUFFERS)
        fail(where + " has custom options that are not a FlexBuffer");
      const auto* opts = op->custom_options();
      if (!opts || opts->size() == 0) fail(where + " has no custom options");
      try {
        return parse_postprocess_options(opts->data(), opts->size());
      } catch (const Error& e) {
        fail(where + ": " + e.what());
      }
    }
    case OpKind::logistic:
    case OpKind::reshape:
      return {};  // RESHAPE's target shape is its output tensor's shape
  }
  return {};
}

// Converters leave TFLite_Detection_PostProcess's outputs without a shape
// (TFLite sizes them when the op is prepared); their shape follows from the
// options. Declared shapes are left for prepare to check.
void resolve_postprocess_shapes(Graph& g) {
  for (const Operator& op : g.ops) {
    if (op.kind != OpKind::detection_postprocess || op.outputs.size() != 4) continue;
    const auto shapes = postprocess_output_shapes(std::get<PostProcessOptions>(op.options));
    for (size_t i = 0; i < 4; ++i) {
      Tensor& t = g.tensors[static_cast<size_t>(op.outputs[i])];
      if (!t.shape.empty() || t.is_constant()) continue;
      t.shape = shapes[i];
      t.bytes = t.elements() * dtype_size(t.type);
    }
  }
}

// Every op input must exist before the op runs, every tensor is written once,
// and nothing writes a constant or a graph input.
void check_dataflow(const Graph& g) {
  std::vector<char> ready(g.tensors.size(), 0);
  for (size_t i = 0; i < g.tensors.size(); ++i) ready[i] = g.tensors[i].is_constant();
  for (int32_t i : g.inputs) {
    if (g.tensors[static_cast<size_t>(i)].is_constant())
      fail("graph input tensor '" + g.tensors[static_cast<size_t>(i)].name + "' is a constant");
    ready[static_cast<size_t>(i)] = 1;
  }
  for (size_t k = 0; k < g.ops.size(); ++k) {
    const Operator& op = g.ops[k];
    const std::string where = "op #" + std::to_string(k) + " " + op_name(op.kind);
    for (int32_t i : op.inputs)
      if (i >= 0 && !ready[static_cast<size_t>(i)])
        fail(where + " reads tensor '" + g.tensors[static_cast<size_t>(i)].name +
             "' before any op has written it");
    for (int32_t o : op.outputs) {
      if (o < 0) fail(where + " has an absent (-1) output");
      if (ready[static_cast<size_t>(o)])
        fail(where + " writes tensor '" + g.tensors[static_cast<size_t>(o)].name +
             "', which is a constant, a graph input or already written");
      ready[static_cast<size_t>(o)] = 1;
    }
  }
  for (int32_t o : g.outputs)
    if (!ready[static_cast<size_t>(o)])
      fail("graph output tensor '" + g.tensors[static_cast<size_t>(o)].name + "' is never written");
}

Graph decode_graph(const tflite::Model* model) {
  if (!model->subgraphs() || model->subgraphs()->size() != 1)
    fail("the model has " + std::to_string(model->subgraphs() ? model->subgraphs()->size() : 0) +
         " subgraphs; Lookout runs models with exactly one");
  const tflite::SubGraph* sg = model->subgraphs()->Get(0);
  if (!sg->tensors() || sg->tensors()->size() == 0) fail("the model has no tensors");
  if (!sg->operators() || sg->operators()->size() == 0) fail("the model has no operators");
  if (sg->tensors()->size() > kMaxTensors) fail("the model has more than " + std::to_string(kMaxTensors) + " tensors");
  if (sg->operators()->size() > kMaxOps) fail("the model has more than " + std::to_string(kMaxOps) + " operators");

  Graph g;
  const size_t num_tensors = sg->tensors()->size();
  uint64_t activation_bytes = 0;
  for (size_t i = 0; i < num_tensors; ++i) {
    g.tensors.push_back(decode_tensor(model, sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i)), i));
    if (!g.tensors.back().is_constant()) activation_bytes += g.tensors.back().bytes;
  }
  if (activation_bytes > kMaxActivationBytes)
    fail("the model's activations need " + std::to_string(activation_bytes) + " bytes, more than the " +
         std::to_string(kMaxActivationBytes) + " Lookout allows");

  g.inputs = decode_indices(sg->inputs(), num_tensors, "the graph's input list", false);
  g.outputs = decode_indices(sg->outputs(), num_tensors, "the graph's output list", false);
  if (g.inputs.empty()) fail("the model declares no input tensor");
  if (g.outputs.empty()) fail("the model declares no output tensor");

  const auto* codes = model->operator_codes();
  const size_t num_codes = codes ? codes->size() : 0;
  for (size_t k = 0; k < sg->operators()->size(); ++k) {
    const tflite::Operator* op = sg->operators()->Get(static_cast<flatbuffers::uoffset_t>(k));
    if (op->opcode_index() >= num_codes)
      fail("op #" + std::to_string(k) + " uses operator code " + std::to_string(op->opcode_index()) +
           ", but the model has " + std::to_string(num_codes));
    Operator out;
    out.kind = decode_op_kind(codes->Get(op->opcode_index()), k);
    const std::string where = "op #" + std::to_string(k) + " " + op_name(out.kind);
    out.inputs = decode_indices(op->inputs(), num_tensors, where, true);
    out.outputs = decode_indices(op->outputs(), num_tensors, where, false);
    out.options = decode_options(op, out.kind, where);
    g.ops.push_back(std::move(out));
  }
  resolve_postprocess_shapes(g);
  check_dataflow(g);
  // Prepare every op once with the reference kernels: shape, type and
  // quantization errors surface at load, whichever backend runs later.
  for (size_t k = 0; k < g.ops.size(); ++k) prepare_kernel(g, k);
  return g;
}

}  // namespace

std::shared_ptr<const Model> Model::from_bytes(std::vector<uint8_t> bytes) {
  if (bytes.size() < 8)
    fail("not a TensorFlow Lite model: " + std::to_string(bytes.size()) + " bytes is too short");
  if (!flatbuffers::BufferHasIdentifier(bytes.data(), tflite::ModelIdentifier()))
    fail("not a TensorFlow Lite model: the file identifier is not 'TFL3'");
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE)
    fail("model file is larger than the 2 GiB a flatbuffer can hold");
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!tflite::VerifyModelBuffer(verifier))
    fail("the model file is truncated or corrupted: its flatbuffer structure does not verify");

  std::shared_ptr<Model> model(new Model);
  model->bytes_ = std::move(bytes);  // moving keeps the data pointer: constants stay valid
  model->graph_ = decode_graph(tflite::GetModel(model->bytes_.data()));
  return model;
}

std::shared_ptr<const Model> Model::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open model file " + path.string() + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("cannot read model file " + path.string());
  try {
    return from_bytes(std::move(bytes));
  } catch (const Error& e) {
    fail(path.string() + ": " + e.what());
  }
}

}  // namespace lookout::engine
