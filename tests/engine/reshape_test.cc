// RESHAPE: bytes copied unchanged; prepare refuses what TFLite refuses.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/op_fixture.h"
#include "engine/op_test_util.h"

namespace lookout::engine {
namespace {

using testing::OpFixture;
using testing::contains;
using testing::prepare_error;
using U8 = std::vector<uint8_t>;
using F32 = std::vector<float>;

TEST(ReshapeUint8, CopiesTheBytes) {
  const Quantization q{0.5f, 3};
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 2, 3}, q);
  const int32_t out = f.tensor(DType::uint8, {3, 2}, q);
  f.op(OpKind::reshape, {in}, {out});
  const U8 data{0, 1, 2, 253, 254, 255};
  f.set(in, data);
  f.run();
  EXPECT_EQ(f.get<uint8_t>(out), data);
}

TEST(ReshapeUint8, AcceptsANewShapeInputThatAgrees) {
  // The SSD model's RESHAPEs carry new_shape [1, -1, 4] style constants.
  const Quantization q{0.5f, 3};
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 2, 2, 4}, q);
  const int32_t shape = f.constant(DType::int32, {3}, std::vector<int32_t>{1, -1, 4});
  const int32_t out = f.tensor(DType::uint8, {1, 4, 4}, q);
  f.op(OpKind::reshape, {in, shape}, {out});
  U8 data(16);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13);
  f.set(in, data);
  f.run();
  EXPECT_EQ(f.get<uint8_t>(out), data);
}

TEST(ReshapeFloat, CopiesTheValues) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {2, 2});
  const int32_t out = f.tensor(DType::float32, {4});
  f.op(OpKind::reshape, {in}, {out});
  const F32 data{1.5f, -2.0f, 1e30f, -0.0f};
  f.set(in, data);
  f.run();
  EXPECT_EQ(f.get<float>(out), data);
}

TEST(ReshapePrepare, RefusesAQuantizationMismatch) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {2, 3}, {0.5f, 3});
  const int32_t out = f.tensor(DType::uint8, {6}, {0.25f, 3});
  f.op(OpKind::reshape, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "RESHAPE"));
  EXPECT_TRUE(contains(msg, "input tensor 't0'"));
  EXPECT_TRUE(contains(msg, "scale 0.5, zero point 3"));
  EXPECT_TRUE(contains(msg, "output tensor 't1'"));
  EXPECT_TRUE(contains(msg, "scale 0.25, zero point 3"));
  EXPECT_TRUE(contains(msg, "must be equal"));
}

TEST(ReshapePrepare, RefusesAZeroPointMismatch) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {2, 3}, {0.5f, 3});
  const int32_t out = f.tensor(DType::uint8, {6}, {0.5f, 4});
  f.op(OpKind::reshape, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "zero point 3"));
  EXPECT_TRUE(contains(msg, "zero point 4"));
}

TEST(ReshapePrepare, RefusesAnElementCountMismatch) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {2, 3});
  const int32_t out = f.tensor(DType::float32, {7});
  f.op(OpKind::reshape, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "input tensor 't0' (float32 [2,3]) has 6 elements"));
  EXPECT_TRUE(contains(msg, "output tensor 't1' (float32 [7]) has 7"));
  EXPECT_TRUE(contains(msg, "element count"));
}

TEST(ReshapePrepare, RefusesATypeMismatch) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {4}, {1.0f, 0});
  const int32_t out = f.tensor(DType::float32, {4});
  f.op(OpKind::reshape, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "output tensor 't1' (float32 [4])"));
  EXPECT_TRUE(contains(msg, "must have the type of input tensor 't0' (uint8 [4])"));
}

TEST(ReshapePrepare, RefusesANewShapeThatDisagrees) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {2, 3});
  const int32_t shape = f.constant(DType::int32, {2}, std::vector<int32_t>{2, 3});
  const int32_t out = f.tensor(DType::float32, {3, 2});
  f.op(OpKind::reshape, {in, shape}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "new_shape tensor 't1'"));
  EXPECT_TRUE(contains(msg, "entry 0 is 2"));
  EXPECT_TRUE(contains(msg, "dimension 0 = 3"));
}

TEST(ReshapePrepare, RefusesThreeInputs) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {4});
  const int32_t out = f.tensor(DType::float32, {4});
  f.op(OpKind::reshape, {in, in, in}, {out});
  EXPECT_TRUE(contains(prepare_error(f), "expects 1 or 2 inputs (input, optional new_shape), has 3"));
}

}  // namespace
}  // namespace lookout::engine
