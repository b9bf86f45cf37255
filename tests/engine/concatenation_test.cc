// CONCATENATION, uint8 (copied or requantized) and float32. Requantized
// values are worked out by hand from TFLite's float expression
// round(q * s_in / s_out - zp_in * s_in / s_out) + zp_out with scales whose
// ratios are exact in float.
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

TEST(ConcatenationUint8, Axis1SameQuantizationCopies) {
  const Quantization q{0.5f, 10};
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {2, 2, 2}, q);
  const int32_t b = f.tensor(DType::uint8, {2, 1, 2}, q);
  const int32_t out = f.tensor(DType::uint8, {2, 3, 2}, q);
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{1, Activation::none});
  f.set(a, U8{1, 2, 3, 4, 5, 6, 7, 8});
  f.set(b, U8{9, 10, 255, 0});
  f.run();
  // Per outer slice (dim 0): a's 2x2 block, then b's 1x2 row.
  EXPECT_EQ(f.get<uint8_t>(out), (U8{1, 2, 3, 4, 9, 10, 5, 6, 7, 8, 255, 0}));
}

TEST(ConcatenationUint8, LastAxisRequantizesInputsQuantizedDifferently) {
  // Output real = 0.5 (q - 10).
  //  a: same quantization, copied.
  //  b: real 0.25 (q - 20): scale 0.5, bias -10.
  //     25 -> 2.5 -> 3 -> 13; 15 -> -2.5 -> -3 -> 7; 255 -> 117.5 -> 118 -> 128;
  //     21 -> 0.5 -> 1 -> 11 (std::round: halves away from zero).
  //  c: real 2 (q - 50): scale 4, bias -200.
  //     200 -> 600 -> 610 -> 255 (clamped); 0 -> -200 -> -190 -> 0 (clamped).
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {2, 1}, {0.5f, 10});
  const int32_t b = f.tensor(DType::uint8, {2, 2}, {0.25f, 20});
  const int32_t c = f.tensor(DType::uint8, {2, 1}, {2.0f, 50});
  const int32_t out = f.tensor(DType::uint8, {2, 4}, {0.5f, 10});
  f.op(OpKind::concatenation, {a, b, c}, {out}, ConcatenationOptions{-1, Activation::none});
  f.set(a, U8{7, 200});
  f.set(b, U8{25, 15, 255, 21});
  f.set(c, U8{200, 0});
  f.run();
  EXPECT_EQ(f.get<uint8_t>(out), (U8{7, 13, 7, 255, 200, 128, 11, 0}));
}

TEST(ConcatenationUint8, Axis1WithDifferentQuantization) {
  // [1,2,2] + [1,1,2] on axis 1; b real = 1 (q - 0), output 0.5 (q - 10):
  // b scale 2, bias 0: 3 -> 6 -> 16, 100 -> 200 -> 210.
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {1, 2, 2}, {0.5f, 10});
  const int32_t b = f.tensor(DType::uint8, {1, 1, 2}, {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 3, 2}, {0.5f, 10});
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{1, Activation::none});
  f.set(a, U8{0, 1, 2, 3});
  f.set(b, U8{3, 100});
  f.run();
  EXPECT_EQ(f.get<uint8_t>(out), (U8{0, 1, 2, 3, 16, 210}));
}

TEST(ConcatenationUint8, RequantizationStaysWithinHalfAStep) {
  // Scales whose ratio is not exact in float: every q of the input must land
  // within half an output step (plus float noise) of the real value.
  const Quantization qin{0.1f, 7}, qout{0.3f, 100};
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {1, 256}, qin);
  const int32_t out = f.tensor(DType::uint8, {1, 256}, qout);
  f.op(OpKind::concatenation, {a}, {out}, ConcatenationOptions{0, Activation::none});
  U8 all(256);
  for (int q = 0; q < 256; ++q) all[static_cast<size_t>(q)] = static_cast<uint8_t>(q);
  f.set(a, all);
  f.run();
  const U8 got = f.get<uint8_t>(out);
  for (int q = 0; q < 256; ++q) {
    const double real = static_cast<double>(qin.scale) * (q - qin.zero_point) / static_cast<double>(qout.scale) +
                        qout.zero_point;
    const double expected = std::clamp(real, 0.0, 255.0);
    EXPECT_LE(std::abs(got[static_cast<size_t>(q)] - expected), 0.5 + 1e-4) << "q = " << q;
  }
}

TEST(ConcatenationFloat, Axis0AndActivation) {
  for (Activation act : {Activation::none, Activation::relu6}) {
    OpFixture f;
    const int32_t a = f.tensor(DType::float32, {1, 2});
    const int32_t b = f.tensor(DType::float32, {2, 2});
    const int32_t out = f.tensor(DType::float32, {3, 2});
    f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{0, act});
    f.set(a, F32{1.0f, -2.0f});
    f.set(b, F32{3.0f, 7.0f, -0.5f, 0.25f});
    f.run();
    const F32 expected = act == Activation::none ? F32{1.0f, -2.0f, 3.0f, 7.0f, -0.5f, 0.25f}
                                                 : F32{1.0f, 0.0f, 3.0f, 6.0f, 0.0f, 0.25f};
    EXPECT_EQ(f.get<float>(out), expected);
  }
}

TEST(ConcatenationFloat, NegativeAxisOnRank4) {
  // The SSD head's layout: [1, H, W, C] pieces joined on the channels.
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {1, 1, 2, 1});
  const int32_t b = f.tensor(DType::float32, {1, 1, 2, 2});
  const int32_t out = f.tensor(DType::float32, {1, 1, 2, 3});
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{-1, Activation::none});
  f.set(a, F32{1.0f, 2.0f});
  f.set(b, F32{10.0f, 11.0f, 20.0f, 21.0f});
  f.run();
  EXPECT_EQ(f.get<float>(out), (F32{1.0f, 10.0f, 11.0f, 2.0f, 20.0f, 21.0f}));
}

TEST(ConcatenationPrepare, RefusesMismatchedDimensions) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2, 3});
  const int32_t b = f.tensor(DType::float32, {4, 3});
  const int32_t out = f.tensor(DType::float32, {2, 6});
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{1, Activation::none});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "CONCATENATION"));
  EXPECT_TRUE(contains(msg, "input 1 tensor 't1' (float32 [4,3]) dimension 0 is 4"));
  EXPECT_TRUE(contains(msg, "must equal output tensor 't2' (float32 [2,6])'s 2"));
}

TEST(ConcatenationPrepare, RefusesARankMismatch) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2, 3});
  const int32_t b = f.tensor(DType::float32, {3});
  const int32_t out = f.tensor(DType::float32, {2, 6});
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{1, Activation::none});
  EXPECT_TRUE(contains(prepare_error(f), "input 1 tensor 't1' (float32 [3]) must have the rank of"));
}

TEST(ConcatenationPrepare, RefusesAWrongAxisSum) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2, 3});
  const int32_t b = f.tensor(DType::float32, {2, 2});
  const int32_t out = f.tensor(DType::float32, {2, 6});
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{-1, Activation::none});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "output tensor 't2' (float32 [2,6]) dimension 1 is 6"));
  EXPECT_TRUE(contains(msg, "inputs' sum 5"));
}

TEST(ConcatenationPrepare, RefusesAnAxisOutOfRange) {
  for (int32_t axis : {2, -3}) {
    OpFixture f;
    const int32_t a = f.tensor(DType::float32, {2, 3});
    const int32_t out = f.tensor(DType::float32, {2, 3});
    f.op(OpKind::concatenation, {a}, {out}, ConcatenationOptions{axis, Activation::none});
    const std::string msg = prepare_error(f);
    EXPECT_TRUE(contains(msg, "axis " + std::to_string(axis) + " is outside [-2, 2)"));
    EXPECT_TRUE(contains(msg, "'t1'"));
  }
}

TEST(ConcatenationPrepare, RefusesAFusedActivationForUint8) {
  const Quantization q{0.5f, 10};
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {2}, q);
  const int32_t b = f.tensor(DType::uint8, {2}, q);
  const int32_t out = f.tensor(DType::uint8, {4}, q);
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{0, Activation::relu6});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "fused activation RELU6"));
  EXPECT_TRUE(contains(msg, "not supported for uint8"));
}

TEST(ConcatenationPrepare, RefusesMixedTypes) {
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {2}, {0.5f, 10});
  const int32_t b = f.tensor(DType::float32, {2});
  const int32_t out = f.tensor(DType::uint8, {4}, {0.5f, 10});
  f.op(OpKind::concatenation, {a, b}, {out}, ConcatenationOptions{0, Activation::none});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "'t1' (float32 [2])"));
  EXPECT_TRUE(contains(msg, "must be uint8"));
}

TEST(ConcatenationPrepare, RefusesMissingOptions) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2});
  const int32_t out = f.tensor(DType::float32, {2});
  f.op(OpKind::concatenation, {a}, {out});
  EXPECT_TRUE(contains(prepare_error(f), "options must be CONCATENATION options"));
}

}  // namespace
}  // namespace lookout::engine
