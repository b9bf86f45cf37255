#include "engine/fused_block.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "engine/depthwise_conv.h"
#include "engine/error.h"
#include "engine/ops/conv_common.h"
#include "engine/own_add.h"
#include "engine/own_conv.h"
#include "engine/pointwise_conv.h"

namespace lookout::engine {

namespace {

// Positions of an ADD's tensors.
constexpr size_t kAddInput1 = 0, kAddInput2 = 1, kAddOutput = 0;

bool is_graph_output(const Graph& graph, int32_t t) {
  return std::find(graph.outputs.begin(), graph.outputs.end(), t) != graph.outputs.end();
}

// The ops reading tensor `t`, once per op.
std::vector<size_t> readers(const Graph& graph, int32_t t) {
  std::vector<size_t> ops;
  for (size_t i = 0; i < graph.ops.size(); ++i)
    if (std::find(graph.ops[i].inputs.begin(), graph.ops[i].inputs.end(), t) != graph.ops[i].inputs.end())
      ops.push_back(i);
  return ops;
}

// The op after `producer` in a block: the only reader of its output, read
// once, as its convolution input; nullopt when there is none such, or when
// the output is a graph output.
std::optional<size_t> only_conv_reader(const Graph& graph, size_t producer) {
  const std::vector<int32_t>& outputs = graph.ops[producer].outputs;
  if (outputs.size() != 1 || outputs[0] < 0 || is_graph_output(graph, outputs[0])) return std::nullopt;
  const std::vector<size_t> r = readers(graph, outputs[0]);
  if (r.size() != 1) return std::nullopt;
  const std::vector<int32_t>& inputs = graph.ops[r[0]].inputs;
  if (std::count(inputs.begin(), inputs.end(), outputs[0]) != 1 || inputs.size() <= kConvInput ||
      inputs[kConvInput] != outputs[0])
    return std::nullopt;
  return r[0];
}

class FusedBlock final : public Kernel {
 public:
  FusedBlock(const Graph& graph, const std::vector<size_t>& ops, Isa isa, pthreadpool_t threadpool,
             int64_t band_bytes)
      : expand_(create_pointwise_conv(OpContext(graph, graph.ops[ops[0]], ops[0]), isa)),
        depthwise_(create_depthwise_conv(OpContext(graph, graph.ops[ops[1]], ops[1]), isa)),
        project_(create_pointwise_conv(OpContext(graph, graph.ops[ops[2]], ops[2]), isa)),
        threadpool_(threadpool) {
    input_ = graph.ops[ops[0]].inputs[kConvInput];
    projected_ = graph.ops[ops[2]].outputs[kConvOutput];
    if (ops.size() == 4) {
      const Operator& add = graph.ops[ops[3]];
      add_.emplace(OpContext(graph, add, ops[3]), isa);
      add_a_ = add.inputs[kAddInput1];
      add_b_ = add.inputs[kAddInput2];
      output_ = add.outputs[kAddOutput];
    }
    const DepthwiseShape& s = depthwise_.shape();
    if (s.batches != 1) throw Error("fused block at op #" + std::to_string(ops[0]) + ": batch " +
                                    std::to_string(s.batches) + " is not 1");
    in_c_ = expand_.shape().in_c;
    mid_c_ = s.channels;
    out_c_ = project_.shape().out_c;
    // The largest band whose scratch fits band_bytes (one row at least).
    const auto scratch_for = [&](int64_t rows) {
      return (((rows - 1) * s.stride_h + 3) * s.in_w + rows * s.out_w) * mid_c_;
    };
    band_rows_ = 1;
    while (band_rows_ < s.out_h && scratch_for(band_rows_ + 1) <= band_bytes) ++band_rows_;
    expanded_bytes_ = static_cast<size_t>(((band_rows_ - 1) * s.stride_h + 3) * s.in_w * mid_c_);
    const size_t threads = threadpool != nullptr ? pthreadpool_get_threads_count(threadpool) : 1;
    tasks_ = std::min<size_t>(threads, static_cast<size_t>(s.out_h));
    scratch_.resize(tasks_);
    for (auto& buffer : scratch_) buffer.assign(static_cast<size_t>(scratch_for(band_rows_)), 0);
  }

  // The expansion's and projection's forms: "bytes", "words", or both
  // (expansion first) where they differ.
  std::string form() const override {
    const std::string e = expand_.form(), p = project_.form();
    return e == p ? e : e + "/" + p;
  }

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* input = buffers.in<uint8_t>(input_);
    uint8_t* projected = buffers.out<uint8_t>(projected_);
    const Sum sum{add_ ? buffers.in<uint8_t>(add_a_) : nullptr, add_ ? buffers.in<uint8_t>(add_b_) : nullptr,
                  add_ ? buffers.out<uint8_t>(output_) : nullptr};
    const auto rows = static_cast<size_t>(depthwise_.shape().out_h);
    const auto task = [&](size_t t) {
      run_rows(t, input, projected, sum, static_cast<int64_t>(t * rows / tasks_),
               static_cast<int64_t>((t + 1) * rows / tasks_));
    };
    if (tasks_ == 1) {
      task(0);
      return;
    }
    pthreadpool_parallelize_1d(threadpool_, task, tasks_, /*flags=*/0);
  }

 private:
  struct Sum {
    const uint8_t *a, *b;  // the ADD's inputs (one is `projected`), or nullptr without ADD
    uint8_t* out;
  };

  // Depthwise output rows [row_begin, row_end), band by band, with task
  // `t`'s scratch: expanded input rows [have_first, have_last) at its start,
  // then the band's depthwise output.
  void run_rows(size_t t, const uint8_t* input, uint8_t* projected, const Sum& sum, int64_t row_begin,
                int64_t row_end) const {
    uint8_t* expanded = scratch_[t].data();
    uint8_t* filtered = expanded + expanded_bytes_;
    const DepthwiseShape& s = depthwise_.shape();
    const int64_t in_row = s.in_w * in_c_, mid_row = s.in_w * mid_c_;
    int64_t have_first = 0, have_last = 0;
    for (int64_t b0 = row_begin; b0 < row_end; b0 += band_rows_) {
      const int64_t b1 = std::min(b0 + band_rows_, row_end);
      const DepthwiseConv3x3::RowSpan need = depthwise_.input_rows(b0, b1);
      // Rows the last band expanded and this one reads move to the front
      // (the halo: up to 2 rows); the rest are expanded after them.
      int64_t first_new = need.first;
      if (need.first >= have_first && need.first < have_last) {
        std::memmove(expanded, expanded + (need.first - have_first) * mid_row,
                     static_cast<size_t>((have_last - need.first) * mid_row));
        first_new = have_last;
      }
      expand_.run_pixels(input + first_new * in_row, expanded + (first_new - need.first) * mid_row, 0,
                         (need.last - first_new) * s.in_w);
      have_first = need.first;
      have_last = need.last;
      depthwise_.run_band(expanded, need.first, filtered, b0, b1);
      const int64_t pixel = b0 * s.out_w, pixels = (b1 - b0) * s.out_w;
      project_.run_pixels(filtered, projected + pixel * out_c_, 0, pixels);
      if (add_)
        add_->run(sum.a, sum.b, sum.out, static_cast<size_t>(pixel * out_c_),
                  static_cast<size_t>((pixel + pixels) * out_c_));
    }
  }

  PointwiseConv expand_;
  DepthwiseConv3x3 depthwise_;
  PointwiseConv project_;
  std::optional<OwnAddRange> add_;
  int32_t input_ = -1, projected_ = -1, add_a_ = -1, add_b_ = -1, output_ = -1;
  int64_t in_c_ = 0, mid_c_ = 0, out_c_ = 0;
  int64_t band_rows_ = 1;
  size_t expanded_bytes_ = 0;
  size_t tasks_ = 1;
  pthreadpool_t threadpool_;
  // One scratch buffer per task; an Engine, so its kernels, serve one thread.
  mutable std::vector<std::vector<uint8_t>> scratch_;
};

}  // namespace

std::vector<size_t> fused_block_ops(const Graph& graph, size_t op_index, Isa isa) {
  if (!is_pointwise_op(graph, op_index) || !pointwise_refusal(graph, op_index, isa).empty()) return {};
  const Tensor* input = tensor_at(graph, graph.ops[op_index].inputs, kConvInput);
  if (input == nullptr || input->shape.size() != 4 || input->dim(0) != 1) return {};
  const std::optional<size_t> depthwise = only_conv_reader(graph, op_index);
  if (!depthwise || !depthwise_refusal(graph, *depthwise, isa).empty()) return {};
  const std::optional<size_t> project = only_conv_reader(graph, *depthwise);
  if (!project || !is_pointwise_op(graph, *project) || !pointwise_refusal(graph, *project, isa).empty()) return {};
  std::vector<size_t> ops{op_index, *depthwise, *project};
  // The residual ADD: the projection's output plus the block's input.
  const int32_t block_input = graph.ops[op_index].inputs[kConvInput];
  const int32_t projected = graph.ops[*project].outputs[kConvOutput];
  for (size_t a : readers(graph, projected)) {
    const std::vector<int32_t>& in = graph.ops[a].inputs;
    if (graph.ops[a].kind == OpKind::add && in.size() == 2 &&
        ((in[0] == projected && in[1] == block_input) || (in[1] == projected && in[0] == block_input)) &&
        own_add_refusal(graph, a, isa).empty()) {
      ops.push_back(a);
      break;
    }
  }
  return ops;
}

std::unique_ptr<Kernel> prepare_fused_block(const Graph& graph, const std::vector<size_t>& ops, Isa isa,
                                            pthreadpool_t threadpool, int64_t band_bytes) {
  // The planner's bug, not the model's: the kernel trusts the ops' wiring.
  if (ops.empty() || fused_block_ops(graph, ops[0], isa) != ops)
    throw Error("fused block: ops do not form a block fused_block_ops accepts at " + std::string(isa_name(isa)));
  return std::make_unique<FusedBlock>(graph, ops, isa, threadpool, band_bytes);
}

}  // namespace lookout::engine
