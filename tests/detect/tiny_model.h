// Tiny TFLite models built in memory, for the detector's model checks and its
// float-input path. Written with FlatBufferBuilder's table API (detect_tests
// does not see the engine's generated schema code); the field slots follow
// the declaration order of src/engine/schema/tflite.fbs, which keeps
// TFLite's.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

// flexbuffers.h's util.h would otherwise need libflatbuffers' locale code
// (as in the engine's detection_postprocess.cc).
#ifndef FLATBUFFERS_LOCALE_INDEPENDENT
#define FLATBUFFERS_LOCALE_INDEPENDENT 0
#endif
#include <flatbuffers/flatbuffers.h>
#include <flatbuffers/flexbuffers.h>

namespace lookout::detect::testing {

// A table field's slot in its vtable: 4 + 2 * (field index in the schema);
// a union field takes two indices (its type, then its value).
constexpr flatbuffers::voffset_t fb_slot(int field) { return static_cast<flatbuffers::voffset_t>(4 + 2 * field); }

class TinyModel {
 public:
  enum Type : int8_t { kFloat32 = 0, kInt32 = 2, kUint8 = 3 };  // tflite::TensorType
  enum Builtin : int32_t { kLogistic = 14, kReshape = 22, kCustom = 32 };  // tflite::BuiltinOperator

  // An activation (data empty) or a float32 constant.
  int32_t tensor(std::vector<int32_t> shape, Type type = kFloat32, std::vector<float> data = {}) {
    tensors_.push_back({std::move(shape), type, std::move(data)});
    return static_cast<int32_t>(tensors_.size() - 1);
  }
  void op(Builtin code, std::vector<int32_t> inputs, std::vector<int32_t> outputs,
          std::vector<uint8_t> custom_options = {}) {
    ops_.push_back({code, std::move(inputs), std::move(outputs), std::move(custom_options)});
  }
  std::vector<int32_t> inputs, outputs;

  std::vector<uint8_t> build() const {
    flatbuffers::FlatBufferBuilder b;
    b.ForceDefaults(true);
    std::vector<flatbuffers::Offset<void>> buffers = {table(b, {})};  // buffer 0: empty, by convention
    std::vector<flatbuffers::Offset<void>> tensors;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const TensorSpec& t = tensors_[i];
      uint32_t buffer = 0;
      if (!t.data.empty()) {
        b.ForceVectorAlignment(t.data.size() * sizeof(float), 1, 16);
        const auto data =
            b.CreateVector(reinterpret_cast<const uint8_t*>(t.data.data()), t.data.size() * sizeof(float));
        buffer = static_cast<uint32_t>(buffers.size());
        buffers.push_back(table(b, {{kBufferData, data.o}}));
      }
      const auto shape = b.CreateVector(t.shape);
      const auto name = b.CreateString("t" + std::to_string(i));
      const auto start = b.StartTable();
      b.AddOffset(kTensorShape, shape);
      b.AddElement<int8_t>(kTensorType, t.type, 0);
      b.AddElement<uint32_t>(kTensorBuffer, buffer, 0);
      b.AddOffset(kTensorName, name);
      tensors.emplace_back(b.EndTable(start));
    }
    std::vector<int32_t> codes;  // one operator code per distinct builtin
    std::vector<flatbuffers::Offset<void>> ops;
    for (const OpSpec& o : ops_) {
      size_t index = 0;
      while (index < codes.size() && codes[index] != o.code) ++index;
      if (index == codes.size()) codes.push_back(o.code);
      const auto in = b.CreateVector(o.inputs);
      const auto out = b.CreateVector(o.outputs);
      flatbuffers::Offset<flatbuffers::Vector<uint8_t>> custom;
      if (!o.custom_options.empty()) custom = b.CreateVector(o.custom_options);
      const auto start = b.StartTable();
      b.AddElement<uint32_t>(kOperatorOpcodeIndex, static_cast<uint32_t>(index), 0);
      b.AddOffset(kOperatorInputs, in);
      b.AddOffset(kOperatorOutputs, out);
      if (!o.custom_options.empty()) {
        b.AddOffset(kOperatorCustomOptions, custom);
        b.AddElement<int8_t>(kOperatorCustomOptionsFormat, 0, 0);  // FLEXBUFFERS
      }
      ops.emplace_back(b.EndTable(start));
    }
    std::vector<flatbuffers::Offset<void>> code_tables;
    for (int32_t code : codes) {
      flatbuffers::Offset<flatbuffers::String> custom_code;
      if (code == kCustom) custom_code = b.CreateString("TFLite_Detection_PostProcess");
      const auto start = b.StartTable();
      b.AddElement<int8_t>(kCodeDeprecatedBuiltin, static_cast<int8_t>(code), 0);
      if (code == kCustom) b.AddOffset(kCodeCustomCode, custom_code);
      b.AddElement<int32_t>(kCodeVersion, 1, 1);
      b.AddElement<int32_t>(kCodeBuiltin, code, 0);
      code_tables.emplace_back(b.EndTable(start));
    }
    const auto subgraph = table(b, {{kSubGraphTensors, b.CreateVector(tensors).o},
                                    {kSubGraphInputs, b.CreateVector(inputs).o},
                                    {kSubGraphOutputs, b.CreateVector(outputs).o},
                                    {kSubGraphOperators, b.CreateVector(ops).o}});
    const auto code_vector = b.CreateVector(code_tables);
    const auto subgraphs = b.CreateVector(&subgraph, 1);
    const auto buffer_vector = b.CreateVector(buffers);
    const auto start = b.StartTable();
    b.AddElement<uint32_t>(kModelVersion, 3, 0);
    b.AddOffset(kModelOperatorCodes, code_vector);
    b.AddOffset(kModelSubgraphs, subgraphs);
    b.AddOffset(kModelBuffers, buffer_vector);
    b.Finish(flatbuffers::Offset<void>(b.EndTable(start)), "TFL3");
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
  }

 private:
  static constexpr auto slot = fb_slot;
  static constexpr flatbuffers::voffset_t kBufferData = slot(0);
  static constexpr flatbuffers::voffset_t kTensorShape = slot(0), kTensorType = slot(1), kTensorBuffer = slot(2),
                                          kTensorName = slot(3);
  static constexpr flatbuffers::voffset_t kCodeDeprecatedBuiltin = slot(0), kCodeCustomCode = slot(1),
                                          kCodeVersion = slot(2), kCodeBuiltin = slot(3);
  static constexpr flatbuffers::voffset_t kOperatorOpcodeIndex = slot(0), kOperatorInputs = slot(1),
                                          kOperatorOutputs = slot(2),  // builtin_options: slots 3 (type), 4
      kOperatorCustomOptions = slot(5), kOperatorCustomOptionsFormat = slot(6);
  static constexpr flatbuffers::voffset_t kSubGraphTensors = slot(0), kSubGraphInputs = slot(1),
                                          kSubGraphOutputs = slot(2), kSubGraphOperators = slot(3);
  static constexpr flatbuffers::voffset_t kModelVersion = slot(0), kModelOperatorCodes = slot(1),
                                          kModelSubgraphs = slot(2), kModelBuffers = slot(4);

  // A table of offset fields only.
  using Field = std::pair<flatbuffers::voffset_t, flatbuffers::uoffset_t>;  // slot, offset
  static flatbuffers::Offset<void> table(flatbuffers::FlatBufferBuilder& b, const std::vector<Field>& fields) {
    const auto start = b.StartTable();
    for (const auto& [field, offset] : fields) b.AddOffset(field, flatbuffers::Offset<void>(offset));
    return flatbuffers::Offset<void>(b.EndTable(start));
  }

  struct TensorSpec {
    std::vector<int32_t> shape;
    Type type;
    std::vector<float> data;
  };
  struct OpSpec {
    Builtin code;
    std::vector<int32_t> inputs, outputs;
    std::vector<uint8_t> custom_options;
  };
  std::vector<TensorSpec> tensors_;
  std::vector<OpSpec> ops_;
};

// TFLite_Detection_PostProcess options (the FlexBuffer map TFLite's
// converter writes), fast NMS, one class per detection.
inline std::vector<uint8_t> postprocess_options(int max_detections, int num_classes) {
  flexbuffers::Builder fbb;
  fbb.Map([&] {
    fbb.Int("max_detections", max_detections);
    fbb.Int("max_classes_per_detection", 1);
    fbb.Bool("use_regular_nms", false);
    fbb.Float("nms_score_threshold", -1.0f);
    fbb.Float("nms_iou_threshold", 0.6f);
    fbb.Int("num_classes", num_classes);
    fbb.Float("y_scale", 10.0f);
    fbb.Float("x_scale", 10.0f);
    fbb.Float("h_scale", 5.0f);
    fbb.Float("w_scale", 5.0f);
  });
  fbb.Finish();
  return fbb.GetBuffer();
}

// A float SSD in miniature: the 1x2 RGB input reshaped into the class
// scores of two anchors (R = background, G = class 0, B = class 1), box
// encodings 0 so each box is its anchor: (ymin, xmin, ymax, xmax) =
// (0, 0, 0.5, 0.25) and (0.5, 0.5, 1.1, 1.0), the latter clamped to 1. The
// scores it reports are its normalized input, (v - 127.5) / 127.5.
inline std::vector<uint8_t> tiny_float_ssd() {
  TinyModel m;
  const int32_t input = m.tensor({1, 1, 2, 3});
  const int32_t scores = m.tensor({1, 2, 3});
  const int32_t encodings = m.tensor({1, 2, 4}, TinyModel::kFloat32, std::vector<float>(8, 0.0f));
  // Anchors: ycenter, xcenter, h, w.
  const int32_t anchors = m.tensor({2, 4}, TinyModel::kFloat32, {0.25f, 0.125f, 0.5f, 0.25f, 0.8f, 0.75f, 0.6f, 0.5f});
  m.inputs = {input};
  m.outputs = {m.tensor({1, 2, 4}), m.tensor({1, 2}), m.tensor({1, 2}), m.tensor({1})};
  m.op(TinyModel::kReshape, {input}, {scores});
  m.op(TinyModel::kCustom, {encodings, scores, anchors}, m.outputs, postprocess_options(2, 2));
  return m.build();
}

}  // namespace lookout::detect::testing
