// LOGISTIC, uint8 (TFLite's 256-entry table) and float32 (TFLite's reference
// with its cut-offs). Table values are checked against hand computation:
// out = clamp(round(256 / (1 + exp(-s_in (q - zp_in)))), 0, 255).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

constexpr Quantization kSigmoidOut{1.0f / 256, 0};

U8 logistic_u8(Quantization in_q, const U8& values) {
  OpFixture f;
  const auto n = static_cast<int32_t>(values.size());
  const int32_t in = f.tensor(DType::uint8, {1, n}, in_q);
  const int32_t out = f.tensor(DType::uint8, {1, n}, kSigmoidOut);
  f.op(OpKind::logistic, {in}, {out});
  f.set(in, values);
  f.run();
  return f.get<uint8_t>(out);
}

TEST(LogisticUint8, TableAtZeroZeroPointAndFullScale) {
  // Input real = 0.1 (q - 128).
  //   q = 0:   x = -12.8, y = 2.76e-6,  256 y = 0.0007  -> 0
  //   q = 118: x = -1,    y = 0.268941, 256 y = 68.849  -> 69
  //   q = 128: x = 0,     y = 0.5,      256 y = 128     -> 128
  //   q = 138: x = 1,     y = 0.731059, 256 y = 187.151 -> 187
  //   q = 255: x = 12.7,  y = 0.999997, 256 y = 255.999 -> 256 -> 255 (clamped)
  EXPECT_EQ(logistic_u8({0.1f, 128}, U8{0, 118, 128, 138, 255}), (U8{0, 69, 128, 187, 255}));
}

TEST(LogisticUint8, TableRoundsToNearest) {
  // Input real = (q - 100) / 16.
  //   q = 0:   x = -6.25,   256 y = 0.4932 -> 0
  //   q = 1:   x = -6.1875, 256 y = 0.5250 -> 1
  //   q = 100: x = 0                        -> 128
  //   q = 128: x = 1.75,    256 y = 218.100 -> 218
  //   q = 255: x = 9.6875,  256 y = 255.984 -> 256 -> 255
  EXPECT_EQ(logistic_u8({1.0f / 16, 100}, U8{0, 1, 100, 128, 255}), (U8{0, 1, 128, 218, 255}));
}

TEST(LogisticUint8, WholeTableWithinHalfAStep) {
  const Quantization in_q{0.05f, 140};
  U8 all(256);
  for (int q = 0; q < 256; ++q) all[static_cast<size_t>(q)] = static_cast<uint8_t>(q);
  const U8 got = logistic_u8(in_q, all);
  for (int q = 0; q < 256; ++q) {
    const double x = static_cast<double>(in_q.scale) * (q - in_q.zero_point);
    const double expected = std::min(256.0 / (1.0 + std::exp(-x)), 255.0);
    EXPECT_LE(std::abs(got[static_cast<size_t>(q)] - expected), 0.5 + 1e-3) << "q = " << q;
  }
}

TEST(LogisticFloat, ValuesAndCutoffs) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {6});
  const int32_t out = f.tensor(DType::float32, {6});
  f.op(OpKind::logistic, {in}, {out});
  f.set(in, F32{0.0f, 1.0f, -1.0f, 16.5f, 20.0f, -10.0f});
  f.run();
  const F32 got = f.get<float>(out);
  EXPECT_EQ(got[0], 0.5f);
  EXPECT_FLOAT_EQ(got[1], 0.7310585786f);
  EXPECT_FLOAT_EQ(got[2], 0.2689414214f);
  EXPECT_FLOAT_EQ(got[3], 0.9999999317f);
  EXPECT_EQ(got[4], 1.0f);  // above the 16.619 cut-off
  // Below -9 TFLite returns exp(x) = 4.53999e-5, not 1/(1+exp(10)) = 4.53979e-5.
  EXPECT_FLOAT_EQ(got[5], 4.5399929762e-5f);
}

TEST(LogisticPrepare, RefusesAnOutputScaleOtherThanOne256th) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {4}, {0.1f, 128});
  const int32_t out = f.tensor(DType::uint8, {4}, {1.0f / 255, 0});
  f.op(OpKind::logistic, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "LOGISTIC"));
  EXPECT_TRUE(contains(msg, "output tensor 't1' (uint8 [4])"));
  EXPECT_TRUE(contains(msg, "scale 0.00392156886, zero point 0"));
  EXPECT_TRUE(contains(msg, "needs scale 1/256"));
}

TEST(LogisticPrepare, RefusesAnOutputZeroPointOtherThanZero) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {4}, {0.1f, 128});
  const int32_t out = f.tensor(DType::uint8, {4}, {1.0f / 256, 1});
  f.op(OpKind::logistic, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "scale 0.00390625, zero point 1"));
  EXPECT_TRUE(contains(msg, "zero point 0"));
}

TEST(LogisticPrepare, RefusesAShapeMismatch) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {4});
  const int32_t out = f.tensor(DType::float32, {2, 2});
  f.op(OpKind::logistic, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "'t0'"));
  EXPECT_TRUE(contains(msg, "'t1'"));
  EXPECT_TRUE(contains(msg, "same shape"));
}

TEST(LogisticPrepare, RefusesMixedTypes) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {4});
  const int32_t out = f.tensor(DType::uint8, {4}, kSigmoidOut);
  f.op(OpKind::logistic, {in}, {out});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "'t1' (uint8 [4])"));
  EXPECT_TRUE(contains(msg, "must be float32"));
}

}  // namespace
}  // namespace lookout::engine
