// ADD, one op at a time, uint8 and float32. Expected uint8 values are worked
// out by hand from XNNPACK's quint8 ADD, the arithmetic TFLite's runtime runs
// (its XNNPACK delegate), or from TFLite's builtin arithmetic where XNNPACK
// refuses the scales (see each comment); the scales are chosen so every
// intermediate is exact and the rounding is the one shown.
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

// out = a + b on uint8 tensors of one shape.
U8 add_u8(const std::vector<int32_t>& shape, Quantization qa, Quantization qb, Quantization qo, const U8& a,
          const U8& b, Activation act = Activation::none) {
  OpFixture f;
  const int32_t ta = f.tensor(DType::uint8, shape, qa);
  const int32_t tb = f.tensor(DType::uint8, shape, qb);
  const int32_t to = f.tensor(DType::uint8, shape, qo);
  f.op(OpKind::add, {ta, tb}, {to}, AddOptions{act});
  f.set(ta, a);
  f.set(tb, b);
  f.run();
  return f.get<uint8_t>(to);
}

TEST(AddUint8, DifferentScalesAndZeroPoints) {
  // input1 real = 0.5 (q - 10), input2 real = 0.25 (q - 100), output q = real + 5.
  // XNNPACK: ratios 0.5 and 0.25, shift 21, multipliers 2^20 and 2^19, so
  // acc / 2^21 is the real sum exactly.
  const U8 a{30, 13, 10, 255, 20};
  const U8 b{140, 101, 100, 255, 60};
  // 10 + 10 = 20; 1.5 + 0.25 = 1.75 -> 2; 0; 122.5 + 38.75 = 161.25 -> 161;
  // 5 - 10 = -5 (exactly the output's 0).
  const U8 expected{25, 7, 5, 166, 0};
  EXPECT_EQ(add_u8({1, 5}, {0.5f, 10}, {0.25f, 100}, {1.0f, 5}, a, b), expected);
}

TEST(AddUint8, RoundingTiesGoUp) {
  // Same quantization as above: 0.5 + 0, -0.5 + 0, -1.5 + 0 and 1.5 + 0 are
  // exact ties for XNNPACK's (acc + 2^20) >> 21, which rounds them up:
  // 0.5 -> 1, -0.5 -> 0, -1.5 -> -1, 1.5 -> 2; plus the zero point 5.
  // (TFLite's builtin ADD rounds them away from zero: 6, 4, 3, 7.)
  const U8 a{11, 9, 7, 13};
  const U8 b{100, 100, 100, 100};
  const U8 expected{6, 5, 4, 7};
  EXPECT_EQ(add_u8({4}, {0.5f, 10}, {0.25f, 100}, {1.0f, 5}, a, b), expected);
}

TEST(AddUint8, MultipliersAreRoundedToIntegers) {
  // Both inputs real = 0.3f * q, output real = q. XNNPACK's shift is 22 and
  // each multiplier 0.3f * 2^22 = 1258291.25 -> 1258291. 5 * 0.3f is
  // 1.50000006 in real terms (-> 2), but 5 * 1258291 = 6291455 is just below
  // 1.5 * 2^22, so (6291455 + 2^21) >> 22 = 1. 5 + 5 -> 12582910 / 2^22 =
  // 2.9999995 -> 3; 10 + 0 the same.
  const Quantization q{0.3f, 0}, out{1.0f, 0};
  EXPECT_EQ(add_u8({3}, q, q, out, U8{5, 5, 10}, U8{0, 5, 0}), (U8{1, 3, 3}));
}

TEST(AddUint8, SaturatesAtBothEnds) {
  // All real = q - 128. Ratios 1: shift 20, multipliers 2^20.
  const Quantization q{1.0f, 128};
  const U8 a{255, 0, 128, 200, 250};
  const U8 b{255, 0, 128, 100, 5};
  // 127 + 127 = 254 -> 382 -> 255; -256 -> -128 -> 0; 0; 72 - 28 = 44;
  // 122 - 123 = -1.
  const U8 expected{255, 0, 128, 172, 127};
  EXPECT_EQ(add_u8({5}, q, q, q, a, b), expected);
}

TEST(AddUint8, Relu6ClampsToTheOutputRange) {
  // Inputs real = 0.1 (q - 50), output real = 0.1 (q - 20): ReLU6 keeps
  // [0, 6] = q [20, 80] (6 / 0.1f + 20 = 79.99999 -> 80). Ratios 1: shift 20,
  // multipliers 2^20, so every sum is exact.
  const Quantization in{0.1f, 50}, out{0.1f, 20};
  const U8 a{50, 100, 60, 50};
  const U8 b{40, 70, 70, 50};
  // -1 -> 10 without activation; 7 -> 90; 3 -> 50; 0 -> 20.
  EXPECT_EQ(add_u8({4}, in, in, out, a, b), (U8{10, 90, 50, 20}));
  EXPECT_EQ(add_u8({4}, in, in, out, a, b, Activation::relu6), (U8{20, 80, 50, 20}));
}

TEST(AddUint8, Relu6ClampAsXnnpackQuantizesIt) {
  // Output scale 4, zero point 1: XNNPACK clamps ReLU6 at lrintf(6 / 4 + 1) =
  // lrintf(2.5) = 2 (TFLite's builtin range: 1 + round(1.5) = 3). Inputs real
  // = q - 128, ratio 0.25: 127 + 0 = 127 -> 31.75 -> 32 + 1 -> 2;
  // 4 + 0 -> 1 + 1 = 2; 0 -> 1; -8 + 0 -> -2 + 1 -> 1.
  const Quantization in{1.0f, 128}, out{4.0f, 1};
  EXPECT_EQ(add_u8({4}, in, in, out, U8{255, 132, 128, 120}, U8{128, 128, 128, 128}, Activation::relu6),
            (U8{2, 2, 1, 1}));
}

TEST(AddUint8, ScalesXnnpackRefusesUseTfliteArithmetic) {
  // An input/output ratio of 256 is outside XNNPACK's [2^-10, 2^8), so the
  // op runs as TFLite's builtin ADD: twice_max = 512, input multipliers 0.5,
  // output multiplier 512 / 2^20 = 2^-11. All zero points 128, so
  // out = 256 (a - 128) + 256 (b - 128) + 128, clamped:
  // (129, 127) -> 128; (129, 128) -> 384 -> 255; (127, 128) -> -128 -> 0.
  const Quantization in{256.0f, 128}, out{1.0f, 128};
  EXPECT_EQ(add_u8({3}, in, in, out, U8{129, 129, 127}, U8{127, 128, 128}), (U8{128, 255, 0}));
  // The ratio 1/2048 is below 2^-10: |a - 128| + |b - 128| <= 256 steps of
  // 1/2048 stay under half an output step, so every output is the zero point.
  const Quantization tiny{1.0f / 2048.0f, 128};
  EXPECT_EQ(add_u8({3}, tiny, tiny, out, U8{255, 0, 200}, U8{255, 0, 0}), (U8{128, 128, 128}));
}

TEST(AddUint8, BroadcastsAVectorAlongTheLastAxis) {
  // [2,3] + [3], both ways round; real = q - 128 everywhere.
  const Quantization q{1.0f, 128};
  for (bool vector_first : {false, true}) {
    OpFixture f;
    const int32_t full = f.tensor(DType::uint8, {2, 3}, q);
    const int32_t vec = f.tensor(DType::uint8, {3}, q);
    const int32_t out = f.tensor(DType::uint8, {2, 3}, q);
    if (vector_first) {
      f.op(OpKind::add, {vec, full}, {out}, AddOptions{});
    } else {
      f.op(OpKind::add, {full, vec}, {out}, AddOptions{});
    }
    f.set(full, U8{128, 129, 130, 131, 132, 133});
    f.set(vec, U8{128, 138, 148});
    f.run();
    EXPECT_EQ(f.get<uint8_t>(out), (U8{128, 139, 150, 131, 142, 153})) << "vector first: " << vector_first;
  }
}

TEST(AddFloat, SumAndActivation) {
  for (Activation act : {Activation::none, Activation::relu6}) {
    OpFixture f;
    const int32_t a = f.tensor(DType::float32, {1, 2, 2});
    const int32_t b = f.tensor(DType::float32, {1, 2, 2});
    const int32_t out = f.tensor(DType::float32, {1, 2, 2});
    f.op(OpKind::add, {a, b}, {out}, AddOptions{act});
    f.set(a, F32{1.5f, -3.0f, 0.25f, 100.0f});
    f.set(b, F32{5.0f, 1.0f, 0.5f, -98.0f});
    f.run();
    const F32 expected = act == Activation::none ? F32{6.5f, -2.0f, 0.75f, 2.0f} : F32{6.0f, 0.0f, 0.75f, 2.0f};
    EXPECT_EQ(f.get<float>(out), expected);
  }
}

TEST(AddFloat, BroadcastsAScalar) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2, 2});
  const int32_t s = f.tensor(DType::float32, {1});
  const int32_t out = f.tensor(DType::float32, {2, 2});
  f.op(OpKind::add, {a, s}, {out}, AddOptions{});
  f.set(a, F32{1.0f, 2.0f, 3.0f, 4.0f});
  f.set(s, F32{0.5f});
  f.run();
  EXPECT_EQ(f.get<float>(out), (F32{1.5f, 2.5f, 3.5f, 4.5f}));
}

TEST(AddPrepare, RefusesMixedTypes) {
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {4}, {1.0f, 0});
  const int32_t b = f.tensor(DType::float32, {4});
  const int32_t out = f.tensor(DType::uint8, {4}, {1.0f, 0});
  f.op(OpKind::add, {a, b}, {out}, AddOptions{});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "ADD"));
  EXPECT_TRUE(contains(msg, "'t1'"));
  EXPECT_TRUE(contains(msg, "float32"));
  EXPECT_TRUE(contains(msg, "must be uint8"));
}

TEST(AddPrepare, RefusesInt32) {
  OpFixture f;
  const int32_t a = f.tensor(DType::int32, {4});
  const int32_t b = f.tensor(DType::int32, {4});
  const int32_t out = f.tensor(DType::int32, {4});
  f.op(OpKind::add, {a, b}, {out}, AddOptions{});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "'t0'"));
  EXPECT_TRUE(contains(msg, "int32"));
  EXPECT_TRUE(contains(msg, "must be uint8 or float32"));
}

TEST(AddPrepare, RefusesShapesThatDoNotBroadcast) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2, 3});
  const int32_t b = f.tensor(DType::float32, {2});
  const int32_t out = f.tensor(DType::float32, {2, 3});
  f.op(OpKind::add, {a, b}, {out}, AddOptions{});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "'t1' (float32 [2])"));
  EXPECT_TRUE(contains(msg, "cannot be broadcast"));
  EXPECT_TRUE(contains(msg, "[2,3]"));
}

TEST(AddPrepare, RefusesAWrongOutputShape) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {2, 3});
  const int32_t b = f.tensor(DType::float32, {2, 3});
  const int32_t out = f.tensor(DType::float32, {3, 2});
  f.op(OpKind::add, {a, b}, {out}, AddOptions{});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "output tensor 't2' (float32 [3,2])"));
  EXPECT_TRUE(contains(msg, "must have the shape of"));
}

TEST(AddPrepare, RefusesAnOutputMultiplierOfOneOrMore) {
  // 2 * 1 / (2^20 * 1e-7) = 19.07...: the output scale is absurdly small.
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {4}, {1.0f, 0});
  const int32_t b = f.tensor(DType::uint8, {4}, {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {4}, {1e-7f, 0});
  f.op(OpKind::add, {a, b}, {out}, AddOptions{});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "output multiplier 19.07"));
  EXPECT_TRUE(contains(msg, "scale 1.00000001e-07 of output tensor 't2' (uint8 [4])"));
  EXPECT_TRUE(contains(msg, "must be in (0, 1)"));
}

TEST(AddPrepare, RefusesAMissingQuantization) {
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {4}, {1.0f, 0});
  const int32_t b = f.tensor(DType::uint8, {4}, {0.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {4}, {1.0f, 0});
  f.op(OpKind::add, {a, b}, {out}, AddOptions{});
  const std::string msg = prepare_error(f);
  EXPECT_TRUE(contains(msg, "'t1'"));
  EXPECT_TRUE(contains(msg, "scale"));
}

TEST(AddPrepare, RefusesOtherOptions) {
  OpFixture f;
  const int32_t a = f.tensor(DType::float32, {4});
  const int32_t b = f.tensor(DType::float32, {4});
  const int32_t out = f.tensor(DType::float32, {4});
  f.op(OpKind::add, {a, b}, {out}, ConcatenationOptions{});
  EXPECT_TRUE(contains(prepare_error(f), "options must be ADD options"));
}

}  // namespace
}  // namespace lookout::engine
