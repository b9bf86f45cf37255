// The fused inverted-residual block (fused_block.h): which ops the planner
// fuses, and the block's bytes against the reference backend and against the
// same ops as separate stages, on generated blocks (odd channel counts,
// stride 1 and 2, with and without the ADD, one pixel to many rows, input
// zero points 0, 128 and 255), with bands of one row up to the whole image,
// on one and two threads, at every ISA level of ours the CPU has.
#include "engine/fused_block.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/graph_builder.h"
#include "engine/own_kernel_check.h"
#include "engine/runtime.h"
#include "engine/xnnpack_runtime.h"

namespace lookout::engine {
namespace {

using testing::fill_inputs;
using testing::GraphBuilder;
using testing::OpFixture;
using testing::quant;
using testing::random_inputs;
using testing::two_threads;

struct BlockCase {
  const char* name;
  int32_t h, w, in_c, expand_c, out_c, stride;
  Padding padding;
  bool add;  // needs stride 1 and out_c == in_c
  int32_t input_zero_point;
};

struct Block {
  int32_t input, expanded, filtered, projected, output;  // output: the ADD's, or projected
};

// expand 1x1 (relu6) -> depthwise 3x3 (relu6) -> project 1x1 (-> ADD).
Block build_block(GraphBuilder& b, const BlockCase& c) {
  Block blk;
  blk.input = b.input({1, c.h, c.w, c.in_c}, quant(1.0f / 128.0f, c.input_zero_point));
  GraphBuilder::Conv expand;
  expand.out_c = c.expand_c;
  expand.k = 1;
  expand.activation = Activation::relu6;
  blk.expanded = b.conv(blk.input, expand);
  GraphBuilder::Conv depthwise;
  depthwise.depthwise = true;
  depthwise.stride = c.stride;
  depthwise.padding = c.padding;
  depthwise.activation = Activation::relu6;
  blk.filtered = b.conv(blk.expanded, depthwise);
  GraphBuilder::Conv project;
  project.out_c = c.out_c;
  project.k = 1;
  blk.projected = b.conv(blk.filtered, project);
  blk.output = c.add ? b.add(blk.input, blk.projected, quant(1.0f / 64.0f, 128)) : blk.projected;
  return blk;
}

std::vector<BlockCase> block_cases() {
  return {
      {"one pixel", 1, 1, 8, 48, 8, 1, Padding::same, true, 128},
      {"one pixel stride 2", 1, 1, 5, 30, 7, 2, Padding::same, false, 128},
      {"odd channels with ADD", 9, 7, 7, 43, 7, 1, Padding::same, true, 0},
      {"odd channels stride 2", 11, 13, 5, 29, 17, 2, Padding::same, false, 255},
      {"even size stride 2", 12, 10, 16, 96, 24, 2, Padding::same, false, 128},
      {"valid padding stride 1", 8, 6, 3, 18, 5, 1, Padding::valid, false, 255},
      {"valid padding stride 2", 9, 9, 6, 36, 12, 2, Padding::valid, false, 0},
      {"many rows with ADD", 37, 5, 24, 144, 24, 1, Padding::same, true, 255},
      {"one column, many rows", 40, 1, 4, 20, 4, 1, Padding::same, true, 0},
      {"wide channels", 6, 6, 32, 192, 32, 1, Padding::same, true, 128},
  };
}

// Scratch budgets: one row per band, a few rows, everything in one band.
constexpr int64_t kBandBytes[] = {1, 4096, kFusedBlockBandBytes};

using FusedBlockTest = testing::OwnKernelTest;  // levels_: our ISA levels the CPU has

TEST_F(FusedBlockTest, PlannerFusesExpandDepthwiseProjectAndAdd) {
  for (Isa isa : levels_) {
    SCOPED_TRACE(isa_name(isa));
    for (bool add : {true, false}) {
      OpFixture f;
      GraphBuilder b(f, DType::uint8, 10);
      const BlockCase c{"", 10, 10, 8, 48, 8, add ? 1 : 2, Padding::same, add, 128};
      const Block blk = build_block(b, c);
      f.graph.outputs = {blk.output};
      const std::vector<size_t> ops = add ? std::vector<size_t>{0, 1, 2, 3} : std::vector<size_t>{0, 1, 2};
      EXPECT_EQ(fused_block_ops(f.graph, 0, isa), ops);
      const auto stages = plan_xnnpack_stages(f.graph, isa);
      ASSERT_EQ(stages.size(), 1u);
      EXPECT_TRUE(stages[0].block);
      EXPECT_EQ(stages[0].ops, ops);
      auto runtime = create_xnnpack_runtime(f.graph, 1, isa);
      EXPECT_FALSE(runtime->materialized(blk.expanded));
      EXPECT_FALSE(runtime->materialized(blk.filtered));
      EXPECT_TRUE(runtime->materialized(blk.projected));
      EXPECT_TRUE(runtime->materialized(blk.output));
      // Profiling keeps the block fused, timed as one step.
      EXPECT_TRUE(plan_xnnpack_stages(f.graph, isa, /*split=*/true)[0].block);
      // Ops that are not a block the kernel refuses, whatever the caller says.
      EXPECT_THROW(prepare_fused_block(f.graph, {0, 1}, isa, nullptr), Error);
      EXPECT_THROW(prepare_fused_block(f.graph, {1, 2, 3}, isa, nullptr), Error);
    }
  }
  // At level xnnpack the block stays with XNNPACK.
  OpFixture f;
  GraphBuilder b(f, DType::uint8, 11);
  f.graph.outputs = {build_block(b, {"", 10, 10, 8, 48, 8, 1, Padding::same, true, 128}).output};
  EXPECT_TRUE(fused_block_ops(f.graph, 0, Isa::xnnpack).empty());
}

TEST_F(FusedBlockTest, PlannerLeavesBlocksWhoseInsidesAreReadElsewhere) {
  for (Isa isa : levels_) {
    SCOPED_TRACE(isa_name(isa));
    for (int variant = 0; variant < 3; ++variant) {
      OpFixture f;
      GraphBuilder b(f, DType::uint8, 20);
      const Block blk = build_block(b, {"", 10, 10, 8, 48, 8, 1, Padding::same, true, 128});
      f.graph.outputs = {blk.output};
      if (variant == 0) f.graph.outputs.push_back(blk.expanded);  // an intermediate is a graph output
      if (variant == 1) {  // the expanded tensor feeds another op too (SSD's box predictor does this)
        GraphBuilder::Conv head;
        head.k = 1;
        f.graph.outputs.push_back(b.conv(blk.expanded, head));
      }
      if (variant == 2) f.graph.outputs.push_back(blk.filtered);
      EXPECT_TRUE(fused_block_ops(f.graph, 0, isa).empty()) << "variant " << variant;
      for (const XnnpackStage& s : plan_xnnpack_stages(f.graph, isa)) EXPECT_FALSE(s.block) << "variant " << variant;
    }
    // The projection read elsewhere too: still fused, ADD and all (the
    // projection's output is written whole).
    OpFixture f;
    GraphBuilder b(f, DType::uint8, 21);
    const Block blk = build_block(b, {"", 10, 10, 8, 48, 8, 1, Padding::same, true, 128});
    f.graph.outputs = {blk.output, blk.projected};
    EXPECT_EQ(fused_block_ops(f.graph, 0, isa), (std::vector<size_t>{0, 1, 2, 3}));
  }
}

// The fused kernel (with each band budget) and the runtime with the block
// fused, against the reference backend and the unfused stages.
TEST_F(FusedBlockTest, IdenticalToReferenceAndUnfusedStages) {
  uint32_t seed = 100;
  for (const BlockCase& c : block_cases()) {
    SCOPED_TRACE(c.name);
    OpFixture f;
    GraphBuilder b(f, DType::uint8, seed++);
    const Block blk = build_block(b, c);
    f.graph.outputs = {blk.output};
    Graph open = f.graph;  // every tensor an output: nothing fuses
    open.outputs = {blk.expanded, blk.filtered, blk.projected, blk.output};
    const auto data = random_inputs(f.graph, b);
    auto reference = create_reference_runtime(f.graph);
    fill_inputs(f.graph, *reference, data);
    reference->invoke();
    const auto expect_same = [&](const Runtime& rt, int32_t id, const std::string& what) {
      const Tensor& t = f.graph.tensors[static_cast<size_t>(id)];
      size_t bad = 0;
      for (size_t i = 0; i < t.bytes; ++i)
        if (rt.data(id)[i] != reference->data(id)[i] && bad++ < 3)
          ADD_FAILURE() << what << ", " << t.name << "[" << i << "]: " << int{rt.data(id)[i]} << ", reference "
                        << int{reference->data(id)[i]};
      EXPECT_EQ(bad, 0u) << what;
    };
    testing::expect_spread(std::vector<uint8_t>(reference->data(blk.projected),
                                                 reference->data(blk.projected) +
                                                     f.graph.tensors[static_cast<size_t>(blk.projected)].bytes),
                           c.name);
    const std::vector<size_t> ops = fused_block_ops(f.graph, 0, levels_.front());
    ASSERT_EQ(ops.size(), c.add ? 4u : 3u);
    for (Isa isa : levels_) {
      for (pthreadpool_t pool : {static_cast<pthreadpool_t>(nullptr), two_threads()}) {
        const std::string where =
            std::string(isa_name(isa)) + (pool != nullptr ? ", 2 threads" : ", 1 thread");
        for (int64_t band_bytes : kBandBytes) {
          const std::string what = where + ", band bytes " + std::to_string(band_bytes);
          auto buffers = create_reference_runtime(f.graph);  // only its buffers
          fill_inputs(f.graph, *buffers, data);
          prepare_fused_block(f.graph, ops, isa, pool, band_bytes)->eval(buffers->buffers());
          expect_same(*buffers, blk.projected, what);
          expect_same(*buffers, blk.output, what);
        }
        const int threads = pool != nullptr ? 2 : 1;
        auto fused = create_xnnpack_runtime(f.graph, threads, isa);
        auto unfused = create_xnnpack_runtime(open, threads, isa);
        fill_inputs(f.graph, *fused, data);
        fill_inputs(open, *unfused, data);
        fused->invoke();
        unfused->invoke();
        expect_same(*fused, blk.output, where + ", fused runtime");
        expect_same(*unfused, blk.output, where + ", unfused stages");
      }
    }
  }
}

}  // namespace
}  // namespace lookout::engine
