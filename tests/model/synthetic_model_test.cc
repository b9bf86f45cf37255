// Models built in memory with the TFLite schema: an unsupported op and an
// unsupported type are refused at load naming them, and a float32 graph of
// the SSD ops runs end to end on both backends with the same result.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "engine/engine.h"
#include "tflite_generated.h"

namespace lookout::engine {
namespace {

namespace fb = flatbuffers;

struct TensorSpec {
  std::vector<int32_t> shape;
  tflite::TensorType type = tflite::TensorType::FLOAT32;
  std::vector<float> data = {};  // constant float data, empty for activations
};

struct OpSpec {
  int32_t code;  // index into codes
  std::vector<int32_t> inputs, outputs;
  tflite::BuiltinOptions options_type = tflite::BuiltinOptions::NONE;
  fb::Offset<void> options = {};
};

// Builds a one-subgraph model; `make_ops` adds options tables to the builder.
std::vector<uint8_t> build_model(const std::vector<tflite::BuiltinOperator>& codes,
                                 const std::vector<TensorSpec>& tensors,
                                 const std::function<std::vector<OpSpec>(fb::FlatBufferBuilder&)>& make_ops,
                                 std::vector<int32_t> inputs, std::vector<int32_t> outputs) {
  fb::FlatBufferBuilder b;
  std::vector<fb::Offset<tflite::Buffer>> buffers = {tflite::CreateBuffer(b)};
  std::vector<fb::Offset<tflite::Tensor>> tensor_offsets;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint32_t buffer = 0;
    if (!tensors[i].data.empty()) {
      b.ForceVectorAlignment(tensors[i].data.size() * 4, 1, 16);
      auto data = b.CreateVector(reinterpret_cast<const uint8_t*>(tensors[i].data.data()), tensors[i].data.size() * 4);
      buffer = static_cast<uint32_t>(buffers.size());
      buffers.push_back(tflite::CreateBuffer(b, data));
    }
    tensor_offsets.push_back(tflite::CreateTensor(b, b.CreateVector(tensors[i].shape), tensors[i].type, buffer,
                                                  b.CreateString("t" + std::to_string(i))));
  }
  std::vector<fb::Offset<tflite::Operator>> ops;
  for (const OpSpec& op : make_ops(b))
    ops.push_back(tflite::CreateOperator(b, static_cast<uint32_t>(op.code), b.CreateVector(op.inputs),
                                         b.CreateVector(op.outputs), op.options_type, op.options));
  std::vector<fb::Offset<tflite::OperatorCode>> code_offsets;
  for (auto c : codes)
    code_offsets.push_back(tflite::CreateOperatorCode(b, static_cast<int8_t>(std::min<int32_t>(static_cast<int32_t>(c), 127)), 0, 1, c));
  auto subgraph = tflite::CreateSubGraph(b, b.CreateVector(tensor_offsets), b.CreateVector(inputs),
                                         b.CreateVector(outputs), b.CreateVector(ops));
  auto model = tflite::CreateModel(b, 3, b.CreateVector(code_offsets), b.CreateVector(&subgraph, 1), 0,
                                   b.CreateVector(buffers));
  tflite::FinishModelBuffer(b, model);
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

std::string load_error(std::vector<uint8_t> bytes) {
  try {
    Model::from_bytes(std::move(bytes));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SyntheticModel, UnsupportedBuiltinOpIsNamed) {
  // Code 17 is MAX_POOL_2D in TFLite's schema.
  auto bytes = build_model({static_cast<tflite::BuiltinOperator>(17)}, {{{1, 4, 4, 1}}, {{1, 2, 2, 1}}},
                           [](fb::FlatBufferBuilder&) { return std::vector<OpSpec>{{0, {0}, {1}}}; }, {0}, {1});
  const std::string msg = load_error(bytes);
  EXPECT_NE(msg.find("op #0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("17"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not support"), std::string::npos) << msg;
}

TEST(SyntheticModel, UnsupportedCustomOpIsNamed) {
  fb::FlatBufferBuilder b;
  auto bytes = build_model({tflite::BuiltinOperator::CUSTOM}, {{{1, 4}}, {{1, 4}}},
                           [](fb::FlatBufferBuilder&) { return std::vector<OpSpec>{{0, {0}, {1}}}; }, {0}, {1});
  const std::string msg = load_error(bytes);
  EXPECT_NE(msg.find("custom op"), std::string::npos) << msg;
}

TEST(SyntheticModel, UnsupportedTensorTypeIsNamed) {
  TensorSpec int8_tensor{{1, 4}, tflite::TensorType::INT8, {}};
  auto bytes = build_model({tflite::BuiltinOperator::LOGISTIC}, {int8_tensor, int8_tensor},
                           [](fb::FlatBufferBuilder&) { return std::vector<OpSpec>{{0, {0}, {1}}}; }, {0}, {1});
  const std::string msg = load_error(bytes);
  EXPECT_NE(msg.find("INT8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t0"), std::string::npos) << msg;
}

TEST(SyntheticModel, ReadBeforeWriteIsRefused) {
  // op 0 reads t1, which only op 1 writes.
  auto bytes = build_model({tflite::BuiltinOperator::LOGISTIC}, {{{1, 4}}, {{1, 4}}, {{1, 4}}},
                           [](fb::FlatBufferBuilder&) {
                             return std::vector<OpSpec>{{0, {1}, {2}}, {0, {0}, {1}}};
                           },
                           {0}, {2});
  const std::string msg = load_error(bytes);
  EXPECT_NE(msg.find("before any op has written it"), std::string::npos) << msg;
}

// input [1,4,4,2] -> CONV_2D 1x1 (2->3, relu6) -> DEPTHWISE 3x3 -> ADD(conv, dw)
//   -> RESHAPE [1,16,3] -> CONCATENATION(axis 1, with itself) -> LOGISTIC
TEST(SyntheticModel, FloatSsdOpsRunOnBothBackends) {
  std::vector<float> w1 = {0.5f, -0.25f, 1.0f, 0.75f, -0.5f, 0.125f};
  std::vector<float> b1 = {0.1f, 0.0f, -0.2f};
  std::vector<float> w2(27), b2 = {0.0f, 0.05f, -0.05f};
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = static_cast<float>((static_cast<int>(i) % 7) - 3) * 0.1f;
  std::vector<TensorSpec> t = {
      {{1, 4, 4, 2}},                                   // 0 input
      {{3, 1, 1, 2}, tflite::TensorType::FLOAT32, w1},  // 1
      {{3}, tflite::TensorType::FLOAT32, b1},           // 2
      {{1, 4, 4, 3}},                                   // 3 conv out
      {{1, 3, 3, 3}, tflite::TensorType::FLOAT32, w2},  // 4
      {{3}, tflite::TensorType::FLOAT32, b2},           // 5
      {{1, 4, 4, 3}},                                   // 6 dw out
      {{1, 4, 4, 3}},                                   // 7 add out
      {{1, 16, 3}},                                     // 8 reshape out
      {{1, 32, 3}},                                     // 9 concat out
      {{1, 32, 3}},                                     // 10 logistic out
  };
  enum { kConv, kDw, kAdd, kReshape, kConcat, kLogistic };
  auto bytes = build_model(
      {tflite::BuiltinOperator::CONV_2D, tflite::BuiltinOperator::DEPTHWISE_CONV_2D, tflite::BuiltinOperator::ADD,
       tflite::BuiltinOperator::RESHAPE, tflite::BuiltinOperator::CONCATENATION, tflite::BuiltinOperator::LOGISTIC},
      t,
      [](fb::FlatBufferBuilder& b) {
        return std::vector<OpSpec>{
            {kConv, {0, 1, 2}, {3}, tflite::BuiltinOptions::Conv2DOptions,
             tflite::CreateConv2DOptions(b, tflite::Padding::SAME, 1, 1, tflite::ActivationFunctionType::RELU6).Union()},
            {kDw, {3, 4, 5}, {6}, tflite::BuiltinOptions::DepthwiseConv2DOptions,
             tflite::CreateDepthwiseConv2DOptions(b, tflite::Padding::SAME, 1, 1, 1).Union()},
            {kAdd, {3, 6}, {7}, tflite::BuiltinOptions::AddOptions, tflite::CreateAddOptions(b).Union()},
            {kReshape, {7}, {8}},
            {kConcat, {8, 8}, {9}, tflite::BuiltinOptions::ConcatenationOptions,
             tflite::CreateConcatenationOptions(b, 1).Union()},
            {kLogistic, {9}, {10}},
        };
      },
      {0}, {10});
  auto model = Model::from_bytes(bytes);
  std::vector<std::vector<float>> results;
  for (Backend backend : {Backend::reference, Backend::xnnpack}) {
    Engine eng(model, {backend, 1});
    auto in = eng.input();
    ASSERT_EQ(in.size(), 32u * 4);
    std::vector<float> x(32);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i)) * 3.0f;
    std::memcpy(in.data(), x.data(), in.size());
    eng.invoke();
    auto out = eng.tensor_data(10);
    ASSERT_EQ(out.size(), 96u * 4);
    std::vector<float> y(96);
    std::memcpy(y.data(), out.data(), out.size());
    results.push_back(y);
  }
  for (size_t i = 0; i < 96; ++i) {
    EXPECT_NEAR(results[0][i], results[1][i], 1e-5f) << "element " << i;
    EXPECT_GT(results[0][i], 0.0f);
    EXPECT_LT(results[0][i], 1.0f);
  }
  // The concatenation of a tensor with itself repeats it.
  for (size_t i = 0; i < 48; ++i) EXPECT_EQ(results[0][i], results[0][48 + i]);
}

}  // namespace
}  // namespace lookout::engine
