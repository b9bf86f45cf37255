// The XNNPACK backend against the reference backend: fixed-seed random
// graphs built in memory, run through both runtimes, each op's output
// compared byte for byte (uint8: the reference kernels requantize with
// XNNPACK's arithmetic) or within a small relative tolerance (float32); plus the partitioning, internal/external values and
// thread-count determinism; at every ISA level of our own kernels the CPU has.
#include "engine/xnnpack_runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/kernel.h"
#include "engine/runtime.h"
#include "engine/isa_levels.h"
#include "engine/graph_builder.h"
#include "engine/op_fixture.h"
#include "engine/pointwise_conv.h"

namespace lookout::engine {
namespace {

using testing::conv_out_size;
using testing::fill_inputs;
using testing::GraphBuilder;
using testing::OpFixture;
using testing::quant;
using testing::random_inputs;
using testing::runnable_isa_levels;

constexpr float kFloatTolerance = 1e-4f;  // relative to max(1, |reference|)

// Checks tensor `id` of two runtimes: uint8 identical, float32 within
// kFloatTolerance relative.
void expect_close(const Graph& g, int32_t id, const Runtime& reference, const Runtime& xnnpack) {
  static_assert(sizeof(float) == 4, "float32 tensors are read as float");
  const Tensor& t = g.tensors[static_cast<size_t>(id)];
  size_t bad = 0;
  if (t.type == DType::uint8) {
    for (size_t i = 0; i < t.bytes; ++i) {
      const int diff = std::abs(int{reference.data(id)[i]} - int{xnnpack.data(id)[i]});
      if (diff != 0 && bad++ < 5)
        ADD_FAILURE() << t.name << "[" << i << "]: reference " << int{reference.data(id)[i]} << ", xnnpack "
                      << int{xnnpack.data(id)[i]};
    }
  } else {
    const auto* r = reinterpret_cast<const float*>(reference.data(id));
    const auto* x = reinterpret_cast<const float*>(xnnpack.data(id));
    for (size_t i = 0; i < t.elements(); ++i) {
      const double diff = std::abs(static_cast<double>(r[i]) - x[i]);
      const double limit = kFloatTolerance * std::max(1.0, std::abs(static_cast<double>(r[i])));
      if (!(diff <= limit) && bad++ < 5)
        ADD_FAILURE() << t.name << "[" << i << "]: reference " << r[i] << ", xnnpack " << x[i];
    }
  }
  EXPECT_EQ(bad, 0u) << t.name << ": " << bad << " elements out of tolerance";
}

// Runs the fixture's graph on the reference backend and on the XNNPACK
// backend at every ISA level the CPU has (xnnpack: XNNPACK's kernels only;
// avx2, avxvnni, avx512vnni: our own where they take the op), with the same random
// inputs, and compares every graph output.
void compare_backends(OpFixture& f, GraphBuilder& b) {
  auto reference = create_reference_runtime(f.graph);
  const auto data = random_inputs(f.graph, b);
  fill_inputs(f.graph, *reference, data);
  reference->invoke();
  for (Isa isa : runnable_isa_levels()) {
    SCOPED_TRACE(std::string("ISA level ") + isa_name(isa));
    auto xnnpack = create_xnnpack_runtime(f.graph, 1, isa);
    fill_inputs(f.graph, *xnnpack, data);
    xnnpack->invoke();
    for (int32_t id : f.graph.outputs) expect_close(f.graph, id, *reference, *xnnpack);
  }
}

// The graph with every tensor an op writes made a graph output, so that an
// XNNPACK runtime materializes all of them.
Graph with_every_tensor_as_output(const Graph& g) {
  Graph open = g;
  open.outputs.clear();
  for (const Operator& op : g.ops) open.outputs.insert(open.outputs.end(), op.outputs.begin(), op.outputs.end());
  return open;
}

// Each op's reference kernel, run on the XNNPACK runtime's own values of
// that op's inputs, must give its outputs: checked per op, so a difference
// is pinned to the op that makes it. Every tensor must be materialized.
void expect_each_op_close(const Graph& g, const Runtime& xnnpack) {
  auto reference = create_reference_runtime(g);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    SCOPED_TRACE("op #" + std::to_string(i) + " " + op_name(g.ops[i].kind));
    for (int32_t t : g.ops[i].inputs) {
      const Tensor& tensor = g.tensors[static_cast<size_t>(t)];
      if (tensor.is_constant()) continue;
      ASSERT_TRUE(xnnpack.materialized(t)) << tensor.name;
      std::memcpy(reference->data(t), xnnpack.data(t), tensor.bytes);
    }
    prepare_kernel(g, i)->eval(reference->buffers());
    for (int32_t t : g.ops[i].outputs) {
      ASSERT_TRUE(xnnpack.materialized(t)) << g.tensors[static_cast<size_t>(t)].name;
      expect_close(g, t, *reference, xnnpack);
    }
  }
}

bool same_bytes(const Graph& g, int32_t id, const Runtime& a, const Runtime& b) {
  return std::memcmp(a.data(id), b.data(id), g.tensors[static_cast<size_t>(id)].bytes) == 0;
}

struct ConvCase {
  const char* name;
  int32_t h, w, in_c;
  GraphBuilder::Conv conv;
};

GraphBuilder::Conv conv(int32_t out_c, int32_t k, int32_t stride, Padding padding,
                        Activation activation = Activation::none) {
  GraphBuilder::Conv c;
  c.out_c = out_c;
  c.k = k;
  c.stride = stride;
  c.padding = padding;
  c.activation = activation;
  return c;
}

GraphBuilder::Conv depthwise(int32_t k, int32_t stride, Padding padding, Activation activation = Activation::none,
                             int32_t multiplier = 1) {
  GraphBuilder::Conv c = conv(0, k, stride, padding, activation);
  c.depthwise = true;
  c.depth_multiplier = multiplier;
  return c;
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases = {
      {"1x1 stride 1 SAME", 8, 8, 16, conv(24, 1, 1, Padding::same)},
      {"1x1 stride 2 SAME odd", 9, 7, 8, conv(8, 1, 2, Padding::same)},
      {"3x3 stride 1 SAME even", 8, 8, 8, conv(16, 3, 1, Padding::same)},
      {"3x3 stride 1 SAME odd", 7, 9, 5, conv(6, 3, 1, Padding::same)},
      {"3x3 stride 2 SAME even", 10, 10, 3, conv(16, 3, 2, Padding::same)},
      {"3x3 stride 2 SAME odd", 11, 9, 4, conv(8, 3, 2, Padding::same)},
      {"3x3 stride 1 VALID", 8, 7, 6, conv(5, 3, 1, Padding::valid)},
      {"3x3 stride 2 VALID odd", 11, 11, 4, conv(8, 3, 2, Padding::valid)},
      {"3x3 stride 2 VALID even", 10, 12, 4, conv(8, 3, 2, Padding::valid)},
      {"3x3 stride 1 SAME relu6", 8, 8, 8, conv(8, 3, 1, Padding::same, Activation::relu6)},
      {"1x1 stride 1 SAME relu", 6, 6, 16, conv(8, 1, 1, Padding::same, Activation::relu)},
      {"5x5 stride 2 SAME relu_n1_to_1", 9, 9, 4, conv(4, 5, 2, Padding::same, Activation::relu_n1_to_1)},
  };
  // Output scale large enough for relu6's upper bound 6.0 to fall inside
  // the uint8 range, and a spread that reaches it.
  ConvCase relu6_top{"3x3 stride 1 SAME relu6 reaching 6.0", 8, 8, 8, conv(8, 3, 1, Padding::same, Activation::relu6)};
  relu6_top.conv.output_scale_factor = 8.0f;  // 6.0 is 96 steps above the zero point
  relu6_top.conv.spread = 150.0f;
  cases.push_back(relu6_top);
  ConvCase dilated{"3x3 dilation 2 SAME", 9, 9, 4, conv(4, 3, 1, Padding::same)};
  dilated.conv.dilation = 2;
  cases.push_back(dilated);
  ConvCase no_bias{"3x3 stride 2 SAME without bias", 8, 8, 4, conv(8, 3, 2, Padding::same)};
  no_bias.conv.bias = false;
  cases.push_back(no_bias);
  return cases;
}

std::vector<ConvCase> depthwise_cases() {
  std::vector<ConvCase> cases = {
      {"3x3 stride 1 SAME", 8, 8, 16, depthwise(3, 1, Padding::same)},
      {"3x3 stride 1 SAME odd", 7, 5, 8, depthwise(3, 1, Padding::same)},
      {"3x3 stride 2 SAME even", 10, 10, 8, depthwise(3, 2, Padding::same)},
      {"3x3 stride 2 SAME odd", 9, 11, 24, depthwise(3, 2, Padding::same)},
      {"3x3 stride 1 VALID", 6, 7, 8, depthwise(3, 1, Padding::valid)},
      {"3x3 stride 2 VALID", 9, 9, 8, depthwise(3, 2, Padding::valid)},
      {"3x3 stride 1 SAME relu6", 8, 8, 32, depthwise(3, 1, Padding::same, Activation::relu6)},
      {"3x3 stride 1 SAME multiplier 2", 6, 6, 4, depthwise(3, 1, Padding::same, Activation::none, 2)},
      {"5x5 stride 1 SAME", 7, 7, 8, depthwise(5, 1, Padding::same)},
  };
  ConvCase relu6_top{"3x3 stride 1 SAME relu6 reaching 6.0", 8, 8, 16, depthwise(3, 1, Padding::same, Activation::relu6)};
  relu6_top.conv.output_scale_factor = 8.0f;  // 6.0 is 96 steps above the zero point
  relu6_top.conv.spread = 150.0f;
  cases.push_back(relu6_top);
  ConvCase no_bias{"3x3 stride 2 SAME without bias", 8, 8, 8, depthwise(3, 2, Padding::same)};
  no_bias.conv.bias = false;
  cases.push_back(no_bias);
  return cases;
}

void run_conv_cases(const std::vector<ConvCase>& cases, DType type, uint32_t seed) {
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    OpFixture f;
    GraphBuilder b(f, type, seed++);
    const int32_t in = b.input({1, c.h, c.w, c.in_c});
    f.graph.outputs = {b.conv(in, c.conv)};
    ASSERT_TRUE(xnnpack_refusal(f.graph, 0).empty()) << xnnpack_refusal(f.graph, 0);
    compare_backends(f, b);
  }
}

TEST(XnnpackRuntime, Conv2dUint8IdenticalToReference) { run_conv_cases(conv_cases(), DType::uint8, 100); }

TEST(XnnpackRuntime, Conv2dFloat32MatchesReference) { run_conv_cases(conv_cases(), DType::float32, 200); }

TEST(XnnpackRuntime, DepthwiseConv2dUint8IdenticalToReference) {
  run_conv_cases(depthwise_cases(), DType::uint8, 300);
}

TEST(XnnpackRuntime, DepthwiseConv2dFloat32MatchesReference) {
  run_conv_cases(depthwise_cases(), DType::float32, 400);
}

TEST(XnnpackRuntime, AddUint8WithDifferentScalesMatchesReference) {
  for (Activation activation : {Activation::none, Activation::relu6}) {
    SCOPED_TRACE(activation == Activation::none ? "no activation" : "relu6");
    OpFixture f;
    GraphBuilder b(f, DType::uint8, 500);
    const int32_t x = b.input({1, 7, 9, 12}, quant(0.05f, 120));
    const int32_t y = b.input({1, 7, 9, 12}, quant(0.02f, 90));
    f.graph.outputs = {b.add(x, y, quant(0.06f, 128), activation)};
    ASSERT_TRUE(xnnpack_refusal(f.graph, 0).empty()) << xnnpack_refusal(f.graph, 0);
    compare_backends(f, b);
  }
}

TEST(XnnpackRuntime, AddFloat32MatchesReference) {
  for (Activation activation : {Activation::none, Activation::relu6}) {
    OpFixture f;
    GraphBuilder b(f, DType::float32, 600);
    const int32_t x = b.input({1, 5, 6, 16});
    const int32_t y = b.input({1, 5, 6, 16});
    f.graph.outputs = {b.add(x, y, {}, activation)};
    compare_backends(f, b);
  }
}

// An ADD whose input-to-output scale ratio XNNPACK refuses runs on the
// reference kernel: same bytes as the reference backend.
TEST(XnnpackRuntime, AddOutsideXnnpackScaleLimitsFallsBackToReference) {
  OpFixture f;
  GraphBuilder b(f, DType::uint8, 700);
  const int32_t x = b.input({1, 4, 4, 8}, quant(0.5f, 128));
  const int32_t y = b.input({1, 4, 4, 8}, quant(0.001f, 128));
  const int32_t out = b.add(x, y, quant(0.5f / 300.0f, 128));
  f.graph.outputs = {out};
  EXPECT_NE(xnnpack_refusal(f.graph, 0).find("scale ratio"), std::string::npos) << xnnpack_refusal(f.graph, 0);
  const auto stages = plan_xnnpack_stages(f.graph, Isa::xnnpack);
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_FALSE(stages[0].xnnpack);

  auto reference = create_reference_runtime(f.graph);
  auto xnnpack = create_xnnpack_runtime(f.graph, 1, Isa::xnnpack);
  const auto data = random_inputs(f.graph, b);
  fill_inputs(f.graph, *reference, data);
  fill_inputs(f.graph, *xnnpack, data);
  reference->invoke();
  xnnpack->invoke();
  EXPECT_EQ(0, std::memcmp(reference->data(out), xnnpack->data(out), f.graph.tensors[static_cast<size_t>(out)].bytes));
}

// MobileNet's inverted residual block: 1x1 expand (relu6), 3x3 depthwise
// (relu6), 1x1 project, residual ADD. One subgraph; the block's insides are
// internal values the runtime never materializes.
struct Block {
  int32_t input, expanded, filtered, projected, output;
};

Block inverted_residual(GraphBuilder& b, int32_t in_c, int32_t size) {
  Block blk;
  blk.input = b.input({1, size, size, in_c});
  blk.expanded = b.conv(blk.input, conv(in_c * 6, 1, 1, Padding::same, Activation::relu6));
  blk.filtered = b.conv(blk.expanded, depthwise(3, 1, Padding::same, Activation::relu6));
  blk.projected = b.conv(blk.filtered, conv(in_c, 1, 1, Padding::same));
  blk.output = b.add(blk.input, blk.projected, quant(1.0f / 64.0f, 128));
  return blk;
}

TEST(XnnpackRuntime, InvertedResidualBlockIsOneSubgraphWithInternalValues) {
  for (DType type : {DType::uint8, DType::float32}) {
    SCOPED_TRACE(dtype_name(type));
    OpFixture f;
    GraphBuilder b(f, type, 800);
    const Block blk = inverted_residual(b, 16, 10);
    f.graph.outputs = {blk.output};
    for (size_t i = 0; i < f.graph.ops.size(); ++i) EXPECT_EQ(xnnpack_refusal(f.graph, i), "") << "op #" << i;
    const auto stages = plan_xnnpack_stages(f.graph, Isa::xnnpack);
    ASSERT_EQ(stages.size(), 1u);
    EXPECT_TRUE(stages[0].xnnpack);
    EXPECT_EQ(stages[0].ops, (std::vector<size_t>{0, 1, 2, 3}));

    auto xnnpack = create_xnnpack_runtime(f.graph, 1, Isa::xnnpack);
    EXPECT_TRUE(xnnpack->materialized(blk.input));
    EXPECT_FALSE(xnnpack->materialized(blk.expanded));
    EXPECT_FALSE(xnnpack->materialized(blk.filtered));
    EXPECT_FALSE(xnnpack->materialized(blk.projected));
    EXPECT_TRUE(xnnpack->materialized(blk.output));

    // The same block with every tensor external: each op identical to
    // its reference kernel, and the same final bytes as with internal values.
    const Graph open = with_every_tensor_as_output(f.graph);
    auto open_xnnpack = create_xnnpack_runtime(open, 1, Isa::xnnpack);
    const auto data = random_inputs(f.graph, b);
    fill_inputs(f.graph, *xnnpack, data);
    fill_inputs(open, *open_xnnpack, data);
    xnnpack->invoke();
    open_xnnpack->invoke();
    expect_each_op_close(open, *open_xnnpack);
    EXPECT_TRUE(same_bytes(f.graph, blk.output, *xnnpack, *open_xnnpack));
  }
}

// With our own kernels (avx2, avxvnni or avx512vnni), the whole block leaves XNNPACK.
// With every tensor a graph output it cannot be fused (fused_block_test.cc
// has the fused form): pointwise expand -> depthwise -> pointwise project ->
// ADD, every tensor between stages materialized, and the same bytes as the
// reference backend (each op, and the block's output) on one and two threads.
TEST(XnnpackRuntime, InvertedResidualBlockWithOurKernels) {
  const std::vector<Isa> levels = runnable_isa_levels({Isa::avx2, Isa::avxvnni, Isa::avx512vnni});
  if (levels.empty()) GTEST_SKIP() << "the CPU has neither avx2 nor avx512vnni";
  OpFixture f;
  GraphBuilder b(f, DType::uint8, 850);
  const Block blk = inverted_residual(b, 24, 19);
  f.graph.outputs = {blk.output};
  const Graph open = with_every_tensor_as_output(f.graph);
  auto reference = create_reference_runtime(f.graph);
  const auto data = random_inputs(f.graph, b);
  fill_inputs(f.graph, *reference, data);
  reference->invoke();
  for (Isa isa : levels) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + ", threads " + std::to_string(threads));
      const auto stages = plan_xnnpack_stages(open, isa);
      ASSERT_EQ(stages.size(), 4u);
      for (size_t s = 0; s < stages.size(); ++s) {
        EXPECT_EQ(stages[s].ops, std::vector<size_t>{s});
        EXPECT_FALSE(stages[s].xnnpack) << "stage " << s;
        EXPECT_FALSE(stages[s].block) << "stage " << s;
        EXPECT_EQ(stages[s].pointwise, s % 2 == 0) << "stage " << s;
        EXPECT_EQ(stages[s].depthwise, s == 1) << "stage " << s;
        EXPECT_EQ(stages[s].add, s == 3) << "stage " << s;
      }
      auto xnnpack = create_xnnpack_runtime(open, threads, isa);
      for (int32_t id : {blk.expanded, blk.filtered, blk.projected}) EXPECT_TRUE(xnnpack->materialized(id));
      fill_inputs(open, *xnnpack, data);
      xnnpack->invoke();
      expect_each_op_close(open, *xnnpack);
      EXPECT_TRUE(same_bytes(f.graph, blk.output, *reference, *xnnpack));
    }
  }
}

// SSD's tail in miniature: a backbone, two box-predictor convs each
// reshaped, concatenated and passed through LOGISTIC. The convs form one
// subgraph whose outputs the reference kernels read (external values).
TEST(XnnpackRuntime, ConvReshapeConcatLogisticPartitionsIntoOneSubgraph) {
  OpFixture f;
  GraphBuilder b(f, DType::uint8, 900);
  const int32_t in = b.input({1, 8, 8, 3});
  const int32_t stem = b.conv(in, conv(8, 3, 2, Padding::same, Activation::relu6));           // op 0, [1,4,4,8]
  const int32_t feature = b.conv(stem, conv(8, 3, 2, Padding::same, Activation::relu6));      // op 1, [1,2,2,8]
  const int32_t box_a = b.conv(stem, conv(6, 1, 1, Padding::same));                           // op 2, [1,4,4,6]
  const int32_t flat_a = b.reshape(box_a, {1, 48, 2});                                        // op 3
  const int32_t box_b = b.conv(feature, conv(6, 1, 1, Padding::same));                        // op 4, [1,2,2,6]
  const int32_t flat_b = b.reshape(box_b, {1, 12, 2});                                        // op 5
  // The concatenation requantizes box_b's values to box_a's quantization;
  // TFLite's LOGISTIC output is always scale 1/256, zero point 0.
  const Quantization concat_q = f.graph.tensors[static_cast<size_t>(flat_a)].quant;
  const int32_t joined = f.tensor(DType::uint8, {1, 60, 2}, concat_q);
  f.op(OpKind::concatenation, {flat_a, flat_b}, {joined}, ConcatenationOptions{1, Activation::none});  // op 6
  const int32_t scores = f.tensor(DType::uint8, {1, 60, 2}, quant(1.0f / 256.0f, 0));
  f.op(OpKind::logistic, {joined}, {scores});  // op 7
  f.graph.outputs = {scores};

  const auto stages = plan_xnnpack_stages(f.graph, Isa::xnnpack);
  ASSERT_EQ(stages.size(), 5u);
  EXPECT_TRUE(stages[0].xnnpack);
  EXPECT_EQ(stages[0].ops, (std::vector<size_t>{0, 1, 2, 4}));
  for (size_t s = 1; s < stages.size(); ++s) EXPECT_FALSE(stages[s].xnnpack) << "stage " << s;
  EXPECT_EQ(stages[1].ops, std::vector<size_t>{3});
  EXPECT_EQ(stages[2].ops, std::vector<size_t>{5});
  EXPECT_EQ(stages[3].ops, std::vector<size_t>{6});
  EXPECT_EQ(stages[4].ops, std::vector<size_t>{7});

  auto reference = create_reference_runtime(f.graph);
  auto xnnpack = create_xnnpack_runtime(f.graph, 1, Isa::xnnpack);
  const auto data = random_inputs(f.graph, b);
  fill_inputs(f.graph, *reference, data);
  fill_inputs(f.graph, *xnnpack, data);
  reference->invoke();
  xnnpack->invoke();
  // The subgraph's outputs: identical to the reference.
  for (int32_t id : {box_a, box_b}) {
    SCOPED_TRACE(f.graph.tensors[static_cast<size_t>(id)].name);
    EXPECT_TRUE(xnnpack->materialized(id));
    expect_close(f.graph, id, *reference, *xnnpack);
  }
  // The reference tail (ops 3, 5, 6, 7) run on XNNPACK's conv outputs must
  // give exactly what the XNNPACK runtime holds: the external values are
  // wired right. (Comparing the tail with the reference backend directly
  // would amplify a 1-step conv difference by the requantization scales.)
  for (int32_t id : {box_a, box_b})
    std::memcpy(reference->data(id), xnnpack->data(id), f.graph.tensors[static_cast<size_t>(id)].bytes);
  for (size_t op : {3, 5, 6, 7}) prepare_kernel(f.graph, op)->eval(reference->buffers());
  for (int32_t id : {flat_a, flat_b, joined, scores}) {
    EXPECT_TRUE(xnnpack->materialized(id));
    EXPECT_EQ(0, std::memcmp(reference->data(id), xnnpack->data(id), f.graph.tensors[static_cast<size_t>(id)].bytes))
        << f.graph.tensors[static_cast<size_t>(id)].name;
  }
  // The backbone tensors feed only XNNPACK nodes: internal.
  EXPECT_FALSE(xnnpack->materialized(stem));
  EXPECT_FALSE(xnnpack->materialized(feature));
}

// A supported op after a reference one starts a second subgraph, which
// takes the reference op's output as an external input.
TEST(XnnpackRuntime, ConvAfterReshapeRunsInASecondSubgraph) {
  for (DType type : {DType::uint8, DType::float32}) {
    SCOPED_TRACE(dtype_name(type));
    OpFixture f;
    GraphBuilder b(f, type, 1000);
    const int32_t in = b.input({1, 6, 6, 4});
    const int32_t first = b.conv(in, conv(8, 3, 1, Padding::same, Activation::relu6));  // [1,6,6,8]
    const int32_t folded = b.reshape(first, {1, 3, 12, 8});
    const int32_t second = b.conv(folded, conv(4, 3, 2, Padding::same));  // [1,2,6,4]
    f.graph.outputs = {second};

    const auto stages = plan_xnnpack_stages(f.graph, Isa::xnnpack);
    ASSERT_EQ(stages.size(), 3u);
    EXPECT_TRUE(stages[0].xnnpack);
    EXPECT_FALSE(stages[1].xnnpack);
    EXPECT_TRUE(stages[2].xnnpack);

    auto xnnpack = create_xnnpack_runtime(f.graph, 1, Isa::xnnpack);
    fill_inputs(f.graph, *xnnpack, random_inputs(f.graph, b));
    xnnpack->invoke();
    EXPECT_TRUE(xnnpack->materialized(first));  // read by the reference RESHAPE
    expect_each_op_close(f.graph, *xnnpack);
  }
}

TEST(XnnpackRuntime, OneAndTwoThreadsGiveIdenticalBytes) {
  for (DType type : {DType::uint8, DType::float32}) {
    SCOPED_TRACE(dtype_name(type));
    OpFixture f;
    GraphBuilder b(f, type, 1100);
    const Block blk = inverted_residual(b, 24, 19);
    // blk.output is both a graph output and the next conv's input.
    const int32_t down = b.conv(blk.output, conv(32, 3, 2, Padding::same, Activation::relu6));
    f.graph.outputs = {blk.output, down};
    const Graph open = with_every_tensor_as_output(f.graph);

    for (Isa isa : runnable_isa_levels()) {
      for (const Graph* g : {static_cast<const Graph*>(&f.graph), &open}) {
        SCOPED_TRACE(isa_name(isa));
        auto one = create_xnnpack_runtime(*g, 1, isa);
        auto two = create_xnnpack_runtime(*g, 2, isa);
        for (int run = 0; run < 2; ++run) {  // new inputs, same setup
          const auto data = random_inputs(*g, b);
          fill_inputs(*g, *one, data);
          fill_inputs(*g, *two, data);
          one->invoke();
          two->invoke();
          for (int32_t id : g->outputs) EXPECT_TRUE(same_bytes(*g, id, *one, *two)) << "tensor #" << id << ", run " << run;
          if (g == &open) expect_each_op_close(open, *one);
        }
      }
    }
  }
}

TEST(XnnpackRuntime, RefusesThreadCountBelowOne) {
  OpFixture f;
  GraphBuilder b(f, DType::uint8, 1200);
  f.graph.outputs = {b.conv(b.input({1, 4, 4, 4}), conv(4, 1, 1, Padding::same))};
  try {
    create_xnnpack_runtime(f.graph, 0, Isa::xnnpack);
    FAIL() << "threads 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("threads must be >= 1, got 0"), std::string::npos) << e.what();
  }
}

// A malformed op is refused with the reference backend's message, naming it.
TEST(XnnpackRuntime, RefusesInvalidOpLikeTheReferenceBackend) {
  OpFixture f;
  GraphBuilder b(f, DType::uint8, 1300);
  const int32_t in = b.input({1, 4, 4, 4});
  const int32_t out = b.conv(in, conv(4, 3, 1, Padding::same));
  f.graph.tensors[static_cast<size_t>(out)].shape = {1, 5, 4, 4};  // SAME stride 1 needs [1,4,4,4]
  f.graph.tensors[static_cast<size_t>(out)].bytes = 80;
  f.graph.outputs = {out};
  std::string reference_message, xnnpack_message;
  try {
    create_reference_runtime(f.graph);
  } catch (const Error& e) {
    reference_message = e.what();
  }
  try {
    create_xnnpack_runtime(f.graph, 1, best_isa());
  } catch (const Error& e) {
    xnnpack_message = e.what();
  }
  EXPECT_NE(reference_message.find("op #0 CONV_2D"), std::string::npos) << reference_message;
  EXPECT_EQ(xnnpack_message, reference_message);
}

}  // namespace
}  // namespace lookout::engine
