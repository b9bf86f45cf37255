// The XNNPACK backend: the ops XNNPACK supports here (CONV_2D,
// DEPTHWISE_CONV_2D, ADD; uint8 or float32) become XNNPACK subgraphs, built
// as TFLite's own XNNPACK delegate builds them; every other op runs on its
// reference kernel. Lifecycle, per XNNPACK: create subgraph -> define values
// and nodes -> create runtime -> setup (once: the Runtime's buffers never
// move) -> invoke, each call's status checked.
//
// At ISA level avx2, avxvnni or avx512vnni (isa.h; this XNNPACK snapshot has no VNNI
// kernels and slow AVX2 ones) the uint8 convolutions and same-shape ADDs
// our kernels take run on them instead (pointwise_conv.h, depthwise_conv.h,
// own_add.h), each as its own stage between the subgraphs; they are
// byte-identical to the reference kernels, like XNNPACK.
//
// Results: XNNPACK requantizes uint8 accumulators in fp32 with one rounding
// (ties to even). TFLite's runtime runs these ops through the same XNNPACK
// arithmetic, and our reference kernels reproduce it (engine/quantization.h),
// so the two backends agree byte for byte; ops XNNPACK refuses stay on the
// reference kernels, which then use TFLite's builtin fixed-point arithmetic.
#include "engine/xnnpack_runtime.h"

#include <xnnpack.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "engine/byte_table.h"
#include "engine/error.h"
#include "engine/kernel.h"
#include "engine/ops/conv_common.h"
#include "engine/quantization.h"
#include "engine/runtime.h"
#include "engine/depthwise_conv.h"
#include "engine/fused_block.h"
#include "engine/own_add.h"
#include "engine/own_conv.h"
#include "engine/pointwise_conv.h"

namespace lookout::engine {

namespace {

// Tensor positions of ADD (CONV_2D's come from conv_common.h).
constexpr size_t kAddInput1 = 0, kAddInput2 = 1;
constexpr size_t kAddOutput = 0;

// The profile's name of our kernel: its ISA level, then its form if it has
// one ("avx2 bytes").
std::string with_form(Isa isa, const Kernel& kernel) {
  const std::string form = kernel.form();
  return form.empty() ? isa_name(isa) : std::string(isa_name(isa)) + " " + form;
}

const char* status_name(xnn_status status) {
  switch (status) {
    case xnn_status_success: return "xnn_status_success";
    case xnn_status_uninitialized: return "xnn_status_uninitialized";
    case xnn_status_invalid_parameter: return "xnn_status_invalid_parameter";
    case xnn_status_invalid_state: return "xnn_status_invalid_state";
    case xnn_status_unsupported_parameter: return "xnn_status_unsupported_parameter";
    case xnn_status_unsupported_hardware: return "xnn_status_unsupported_hardware";
    case xnn_status_out_of_memory: return "xnn_status_out_of_memory";
  }
  return "unknown xnn_status";
}

// Every XNNPACK call goes through here: `where` names the op or subgraph.
void check(xnn_status status, const std::string& where, const std::string& call) {
  if (status != xnn_status_success) throw Error(where + ": " + call + " failed with " + status_name(status));
}

void ensure_xnnpack_initialized() {
  static std::once_flag once;
  static xnn_status status = xnn_status_uninitialized;
  std::call_once(once, [] { status = xnn_initialize(/*allocator=*/nullptr); });
  check(status, "XNNPACK backend", "xnn_initialize");
}

// One RAII owner per handle kind.
struct SubgraphDeleter {
  void operator()(xnn_subgraph_t s) const { xnn_delete_subgraph(s); }
};
struct XnnRuntimeDeleter {
  void operator()(xnn_runtime_t r) const { xnn_delete_runtime(r); }
};
struct ThreadpoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};
using SubgraphPtr = std::unique_ptr<xnn_subgraph, SubgraphDeleter>;
using XnnRuntimePtr = std::unique_ptr<xnn_runtime, XnnRuntimeDeleter>;
using ThreadpoolPtr = std::unique_ptr<pthreadpool, ThreadpoolDeleter>;

std::string op_label(const Graph& graph, size_t op_index) {
  return "op #" + std::to_string(op_index) + " " + op_name(graph.ops[op_index].kind);
}

std::string describe(const Tensor& t) { return describe_tensor("", t); }

// "" when `t` has quantization XNNPACK accepts for quint8 (normal positive
// scale, zero point a uint8 value).
std::string quant8_refusal(const Tensor& t) {
  if (!std::isnormal(t.quant.scale) || t.quant.scale < 0.0f)
    return describe(t) + " scale " + std::to_string(t.quant.scale) + " is not a normal positive float";
  if (t.quant.zero_point < 0 || t.quant.zero_point > 255)
    return describe(t) + " zero point " + std::to_string(t.quant.zero_point) + " is outside [0,255]";
  return "";
}

// "" when a uint8 output's fused activation leaves XNNPACK a range it accepts
// (min strictly below max).
std::string range_refusal(const Tensor& output, Activation activation) {
  const Range32 r = xnn_activation_range_uint8(activation, output.quant);
  if (r.min >= r.max)
    return "fused activation leaves the degenerate range [" + std::to_string(r.min) + "," + std::to_string(r.max) +
           "] for " + describe(output);
  return "";
}

std::string conv_refusal(const Graph& graph, const Operator& op) {
  const auto* options = std::get_if<ConvOptions>(&op.options);
  if (options == nullptr) return "no convolution options";
  const Tensor* input = tensor_at(graph, op.inputs, kConvInput);
  const Tensor* filter = tensor_at(graph, op.inputs, kConvFilter);
  const Tensor* bias = tensor_at(graph, op.inputs, kConvBias);
  const Tensor* output = tensor_at(graph, op.outputs, kConvOutput);
  if (input == nullptr || filter == nullptr || output == nullptr || op.outputs.size() != 1)
    return "missing input, filter or output";
  if (input->type != DType::uint8 && input->type != DType::float32)
    return describe(*input) + " is neither uint8 nor float32";
  if (filter->type != input->type || output->type != input->type)
    return "input, filter and output types differ";
  const DType bias_type = input->type == DType::uint8 ? DType::int32 : DType::float32;
  if (bias != nullptr && (bias->type != bias_type || !bias->is_constant() || bias->shape.size() != 1))
    return "the bias must be a constant 1-D " + std::string(dtype_name(bias_type)) + " tensor";
  if (!filter->is_constant()) return "the filter must be a constant";
  if (input->shape.size() != 4 || filter->shape.size() != 4 || output->shape.size() != 4)
    return "input, filter and output must have rank 4";
  if (input->type == DType::uint8) {
    for (const Tensor* t : {input, filter, output})
      if (std::string why = quant8_refusal(*t); !why.empty()) return why;
    if (!xnn_conv_supported(input->quant.scale, filter->quant.scale, output->quant.scale))
      return "requantization scale input*filter/output = " +
             std::to_string(xnn_conv_scale(input->quant.scale, filter->quant.scale, output->quant.scale)) +
             " is outside what XNNPACK accepts (normal floats below " + std::to_string(kXnnMaxConvScale) + ")";
    return range_refusal(*output, options->activation);
  }
  return "";
}

std::string add_refusal(const Graph& graph, const Operator& op) {
  const auto* options = std::get_if<AddOptions>(&op.options);
  if (options == nullptr) return "no ADD options";
  const Tensor* input1 = tensor_at(graph, op.inputs, kAddInput1);
  const Tensor* input2 = tensor_at(graph, op.inputs, kAddInput2);
  const Tensor* output = tensor_at(graph, op.outputs, kAddOutput);
  if (input1 == nullptr || input2 == nullptr || output == nullptr || op.inputs.size() != 2 || op.outputs.size() != 1)
    return "missing input or output";
  if (input1->type != DType::uint8 && input1->type != DType::float32)
    return describe(*input1) + " is neither uint8 nor float32";
  if (input2->type != input1->type || output->type != input1->type) return "input and output types differ";
  if (input1->is_constant() || input2->is_constant()) return "an input is a constant";
  // Broadcasting ADDs stay on the reference kernel: same shapes only.
  if (input1->shape != output->shape || input2->shape != output->shape)
    return "inputs and output shapes differ (broadcasting)";
  if (input1->type == DType::uint8) {
    for (const Tensor* t : {input1, input2, output})
      if (std::string why = quant8_refusal(*t); !why.empty()) return why;
    if (!xnn_add_supported(input1->quant.scale, input2->quant.scale, output->quant.scale))
      return "an input-to-output scale ratio (" + std::to_string(input1->quant.scale / output->quant.scale) + ", " +
             std::to_string(input2->quant.scale / output->quant.scale) + ") is outside XNNPACK's [2^-10, 2^8)";
    return range_refusal(*output, options->activation);
  }
  return "";
}

// XNNPACK's output_min/output_max are real values, which it quantizes itself
// for quint8 nodes; TFLite's delegate passes the activation's real bounds,
// and so do we (the reference kernels quantize them the same way, see
// xnn_activation_range_uint8).
struct OutputRange {
  float min, max;
};

OutputRange output_range(Activation activation) {
  const RangeF r = activation_range_float(activation);
  return {r.min, r.max};
}

// Where each tensor is produced and whether anything outside that stage (a
// reference kernel, another subgraph, the caller) reads it.
struct TensorRoles {
  std::vector<int64_t> producer_stage;  // -1: graph input, constant or never written
  std::vector<bool> read_outside_producer;

  TensorRoles(const Graph& graph, const std::vector<XnnpackStage>& stages)
      : producer_stage(graph.tensors.size(), -1), read_outside_producer(graph.tensors.size(), false) {
    const size_t n = graph.tensors.size();
    std::vector<int64_t> stage_of_op(graph.ops.size(), -1);
    for (size_t s = 0; s < stages.size(); ++s)
      for (size_t i : stages[s].ops) stage_of_op[i] = static_cast<int64_t>(s);
    for (size_t i = 0; i < graph.ops.size(); ++i)
      for (int32_t t : graph.ops[i].outputs)
        if (t >= 0 && static_cast<size_t>(t) < n) producer_stage[static_cast<size_t>(t)] = stage_of_op[i];
    for (size_t i = 0; i < graph.ops.size(); ++i)
      for (int32_t t : graph.ops[i].inputs)
        if (t >= 0 && static_cast<size_t>(t) < n && producer_stage[static_cast<size_t>(t)] != stage_of_op[i])
          read_outside_producer[static_cast<size_t>(t)] = true;
    for (int32_t t : graph.outputs)
      if (t >= 0 && static_cast<size_t>(t) < n) read_outside_producer[static_cast<size_t>(t)] = true;
  }
};

// Builds one XNNPACK subgraph from a stage's ops. Value ids are the graph's
// tensor indices (reserved as external ids, like the TFLite delegate does);
// only tensors crossing the stage boundary carry the EXTERNAL flags.
class SubgraphBuilder {
 public:
  SubgraphBuilder(const Graph& graph, const TensorRoles& roles, size_t stage, std::string label,
                  std::vector<std::vector<int32_t>>& zero_biases)
      : graph_(graph), roles_(roles), stage_(static_cast<int64_t>(stage)), label_(std::move(label)),
        zero_biases_(zero_biases), value_ids_(graph.tensors.size(), XNN_INVALID_VALUE_ID) {
    xnn_subgraph_t subgraph = nullptr;
    check(xnn_create_subgraph(static_cast<uint32_t>(graph.tensors.size()), /*flags=*/0, &subgraph), label_,
          "xnn_create_subgraph");
    subgraph_.reset(subgraph);
  }

  void define_op(size_t op_index) {
    const Operator& op = graph_.ops[op_index];
    switch (op.kind) {
      case OpKind::conv_2d:
      case OpKind::depthwise_conv_2d: define_conv(op_index); return;
      case OpKind::add: define_add(op_index); return;
      default: break;
    }
    throw Error(op_label(graph_, op_index) + ": has no XNNPACK mapping (planner bug)");
  }

  // Creates the runtime and binds every external value to the Runtime's
  // buffer for it, once.
  XnnRuntimePtr finish(pthreadpool_t threadpool, const TensorBuffers& buffers) {
    xnn_runtime_t runtime = nullptr;
    check(xnn_create_runtime_v2(subgraph_.get(), threadpool, /*flags=*/0, &runtime), label_,
          "xnn_create_runtime_v2");
    XnnRuntimePtr owned(runtime);
    std::vector<xnn_external_value> externals;
    for (int32_t t : externals_) externals.push_back(xnn_external_value{static_cast<uint32_t>(t), buffers.raw(t)});
    check(xnn_setup_runtime(owned.get(), externals.size(), externals.data()), label_,
          "xnn_setup_runtime (" + std::to_string(externals.size()) + " external values)");
    return owned;
  }

 private:
  uint32_t flags_for(int32_t t) const {
    const auto i = static_cast<size_t>(t);
    if (graph_.tensors[i].is_constant()) return 0;
    if (roles_.producer_stage[i] != stage_) return XNN_VALUE_FLAG_EXTERNAL_INPUT;
    return roles_.read_outside_producer[i] ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0;
  }

  // The value for tensor `t`, defined on first use. `bias_scale` is the
  // quantization scale of an int32 bias (input scale x filter scale).
  uint32_t value(size_t op_index, int32_t t, float bias_scale = 0.0f) {
    const auto i = static_cast<size_t>(t);
    if (value_ids_[i] != XNN_INVALID_VALUE_ID) return value_ids_[i];
    const Tensor& tensor = graph_.tensors[i];
    std::vector<size_t> dims(tensor.shape.begin(), tensor.shape.end());
    const uint32_t flags = flags_for(t);
    const std::string where = op_label(graph_, op_index);
    const std::string what = " for tensor #" + std::to_string(t) + " " + describe(tensor);
    uint32_t id = XNN_INVALID_VALUE_ID;
    switch (tensor.type) {
      case DType::float32:
        check(xnn_define_tensor_value(subgraph_.get(), xnn_datatype_fp32, dims.size(), dims.data(), tensor.constant,
                                      static_cast<uint32_t>(t), flags, &id),
              where, "xnn_define_tensor_value" + what);
        break;
      case DType::uint8:
        check(xnn_define_quantized_tensor_value(subgraph_.get(), xnn_datatype_quint8, tensor.quant.zero_point,
                                                tensor.quant.scale, dims.size(), dims.data(), tensor.constant,
                                                static_cast<uint32_t>(t), flags, &id),
              where, "xnn_define_quantized_tensor_value" + what);
        break;
      case DType::int32:
        check(xnn_define_quantized_tensor_value(subgraph_.get(), xnn_datatype_qint32, /*zero_point=*/0, bias_scale,
                                                dims.size(), dims.data(), tensor.constant, static_cast<uint32_t>(t),
                                                flags, &id),
              where, "xnn_define_quantized_tensor_value" + what);
        break;
    }
    value_ids_[i] = id;
    if (flags != 0) externals_.push_back(t);
    return id;
  }

  // XNNPACK convolutions take a bias; a TFLite one without gets zeros, owned
  // by the runtime (0 bits read as 0 for int32 and float32 alike).
  uint32_t zero_bias(size_t op_index, DType type, int32_t channels, float bias_scale) {
    zero_biases_.emplace_back(static_cast<size_t>(channels), 0);
    const size_t dims[1] = {static_cast<size_t>(channels)};
    const void* data = zero_biases_.back().data();
    const std::string where = op_label(graph_, op_index);
    uint32_t id = XNN_INVALID_VALUE_ID;
    if (type == DType::uint8)
      check(xnn_define_quantized_tensor_value(subgraph_.get(), xnn_datatype_qint32, 0, bias_scale, 1, dims, data,
                                              XNN_INVALID_VALUE_ID, 0, &id),
            where, "xnn_define_quantized_tensor_value for the zero bias");
    else
      check(xnn_define_tensor_value(subgraph_.get(), xnn_datatype_fp32, 1, dims, data, XNN_INVALID_VALUE_ID, 0, &id),
            where, "xnn_define_tensor_value for the zero bias");
    return id;
  }

  void define_conv(size_t op_index) {
    const Operator& op = graph_.ops[op_index];
    const auto& options = std::get<ConvOptions>(op.options);
    const bool depthwise = op.kind == OpKind::depthwise_conv_2d;
    const Tensor& input = *tensor_at(graph_, op.inputs, kConvInput);
    const Tensor& filter = *tensor_at(graph_, op.inputs, kConvFilter);
    const Tensor* bias = tensor_at(graph_, op.inputs, kConvBias);
    const int32_t in_c = input.dim(3);
    const int32_t out_c = depthwise ? filter.dim(3) : filter.dim(0);
    const int32_t k_h = filter.dim(1), k_w = filter.dim(2);
    // Explicit TFLite padding (SAME: the odd extra row/column bottom/right).
    const ConvGeometry geo = compute_conv_geometry(input.dim(1), input.dim(2), k_h, k_w, options);
    const float bias_scale = input.quant.scale * filter.quant.scale;

    const uint32_t input_id = value(op_index, op.inputs[kConvInput]);
    const uint32_t filter_id = value(op_index, op.inputs[kConvFilter]);
    const uint32_t bias_id = bias != nullptr ? value(op_index, op.inputs[kConvBias], bias_scale)
                                             : zero_bias(op_index, input.type, out_c, bias_scale);
    const uint32_t output_id = value(op_index, op.outputs[kConvOutput]);
    const OutputRange range = output_range(options.activation);

    const auto u32 = [](int32_t v) { return static_cast<uint32_t>(v); };
    const std::string where = op_label(graph_, op_index);
    if (depthwise) {
      check(xnn_define_depthwise_convolution_2d(
                subgraph_.get(), u32(geo.pad_top), u32(geo.pad_right), u32(geo.pad_bottom), u32(geo.pad_left),
                u32(k_h), u32(k_w), u32(options.stride_h), u32(options.stride_w), u32(options.dilation_h),
                u32(options.dilation_w), u32(options.depth_multiplier), static_cast<size_t>(in_c), range.min,
                range.max, input_id, filter_id, bias_id, output_id, /*flags=*/0),
            where, "xnn_define_depthwise_convolution_2d");
    } else {
      check(xnn_define_convolution_2d(subgraph_.get(), u32(geo.pad_top), u32(geo.pad_right), u32(geo.pad_bottom),
                                      u32(geo.pad_left), u32(k_h), u32(k_w), u32(options.stride_h),
                                      u32(options.stride_w), u32(options.dilation_h), u32(options.dilation_w),
                                      /*groups=*/1, static_cast<size_t>(in_c), static_cast<size_t>(out_c), range.min,
                                      range.max, input_id, filter_id, bias_id, output_id, /*flags=*/0),
            where, "xnn_define_convolution_2d");
    }
  }

  void define_add(size_t op_index) {
    const Operator& op = graph_.ops[op_index];
    const auto& options = std::get<AddOptions>(op.options);
    const uint32_t input1_id = value(op_index, op.inputs[kAddInput1]);
    const uint32_t input2_id = value(op_index, op.inputs[kAddInput2]);
    const uint32_t output_id = value(op_index, op.outputs[kAddOutput]);
    const OutputRange range = output_range(options.activation);
    check(xnn_define_add2(subgraph_.get(), range.min, range.max, input1_id, input2_id, output_id, /*flags=*/0),
          op_label(graph_, op_index), "xnn_define_add2");
  }

  const Graph& graph_;
  const TensorRoles& roles_;
  int64_t stage_;
  std::string label_;
  std::vector<std::vector<int32_t>>& zero_biases_;
  std::vector<uint32_t> value_ids_;  // per graph tensor, once defined
  std::vector<int32_t> externals_;   // tensors with EXTERNAL_INPUT/OUTPUT flags
  SubgraphPtr subgraph_;
};

std::string stage_label(size_t stage, const XnnpackStage& s) {
  return "XNNPACK subgraph " + std::to_string(stage) + " (" + std::to_string(s.ops.size()) + " ops, #" +
         std::to_string(s.ops.front()) + "..#" + std::to_string(s.ops.back()) + ")";
}

class XnnpackRuntime final : public Runtime {
 public:
  XnnpackRuntime(const Graph& graph, int threads, Isa isa, bool profiling)
      : Runtime(graph, profiling), materialized_(graph.tensors.size(), true) {
    if (threads < 1) throw Error("XNNPACK backend: threads must be >= 1, got " + std::to_string(threads));
    // Every op gets the reference backend's checks, so both backends refuse
    // the same graphs with the same messages; XNNPACK ops drop the kernel.
    std::vector<std::unique_ptr<Kernel>> kernels;
    for (size_t i = 0; i < graph.ops.size(); ++i) kernels.push_back(prepare_kernel(graph, i, isa));

    require_isa(isa);
    const std::vector<XnnpackStage> stages = plan_xnnpack_stages(graph, isa, profiling);
    const TensorRoles roles(graph, stages);
    for (size_t t = 0; t < graph.tensors.size(); ++t) {
      const int64_t s = roles.producer_stage[t];
      if (s >= 0 && stages[static_cast<size_t>(s)].xnnpack && !roles.read_outside_producer[t])
        materialized_[t] = false;
    }
    // A fused block never writes its expanded and depthwise outputs.
    for (const XnnpackStage& s : stages)
      if (s.block)
        for (size_t op : {s.ops[0], s.ops[1]})
          materialized_[static_cast<size_t>(graph.ops[op].outputs[kConvOutput])] = false;

    const bool any_xnnpack = std::any_of(stages.begin(), stages.end(), [](const XnnpackStage& s) { return s.xnnpack; });
    const bool any_ours = std::any_of(stages.begin(), stages.end(), [](const XnnpackStage& s) {
      return s.pointwise || s.depthwise || s.add || s.block;
    });
    if (any_xnnpack) ensure_xnnpack_initialized();
    if (any_xnnpack || any_ours) {
      if (threads > 1) {
        threadpool_.reset(pthreadpool_create(static_cast<size_t>(threads)));
        if (!threadpool_)
          throw Error("XNNPACK backend: pthreadpool_create(" + std::to_string(threads) + ") failed");
      }
    }
    for (size_t s = 0; s < stages.size(); ++s) {
      Step step;
      if (stages[s].xnnpack) {
        step.label = stage_label(s, stages[s]);
        SubgraphBuilder builder(graph, roles, s, step.label, zero_biases_);
        for (size_t i : stages[s].ops) builder.define_op(i);
        step.xnn = builder.finish(threadpool_.get(), buffers());
        add_profile_step(stages[s].ops, "xnnpack");
      } else if (stages[s].block) {
        step.kernel = prepare_fused_block(graph, stages[s].ops, isa, threadpool_.get());
        add_profile_step(stages[s].ops, with_form(isa, *step.kernel) + " block");
      } else if (stages[s].pointwise) {
        const size_t i = stages[s].ops.front();
        step.kernel = prepare_pointwise(OpContext(graph, graph.ops[i], i), isa, threadpool_.get());
        add_profile_step(stages[s].ops, with_form(isa, *step.kernel));
      } else if (stages[s].depthwise) {
        const size_t i = stages[s].ops.front();
        step.kernel = prepare_depthwise(OpContext(graph, graph.ops[i], i), isa, threadpool_.get());
        add_profile_step(stages[s].ops, isa_name(isa));
      } else if (stages[s].add) {
        const size_t i = stages[s].ops.front();
        step.kernel = prepare_own_add(OpContext(graph, graph.ops[i], i), isa, threadpool_.get());
        add_profile_step(stages[s].ops, isa_name(isa));
      } else {
        const size_t i = stages[s].ops.front();
        step.kernel = std::move(kernels[i]);
        const OpKind kind = graph.ops[i].kind;
        add_profile_step(stages[s].ops, kind == OpKind::logistic || kind == OpKind::concatenation
                                            ? byte_table_kernel_name(isa)
                                            : "reference");
      }
      steps_.push_back(std::move(step));
    }
  }

  void invoke() override {
    for (size_t s = 0; s < steps_.size(); ++s) {
      const Step& step = steps_[s];
      run_step(s, [&] {
        if (step.xnn)
          check(xnn_invoke_runtime(step.xnn.get()), step.label, "xnn_invoke_runtime");
        else
          step.kernel->eval(buffers());
      });
    }
  }

  bool materialized(int32_t tensor) const override { return materialized_.at(static_cast<size_t>(tensor)); }

 private:
  struct Step {
    std::string label;
    XnnRuntimePtr xnn;               // an XNNPACK subgraph, or
    std::unique_ptr<Kernel> kernel;  // one reference kernel
  };

  // Declaration order is destruction order reversed: the XNNPACK runtimes and
  // our kernels (steps_) go first, then the threadpool and zero biases they use.
  std::vector<std::vector<int32_t>> zero_biases_;
  ThreadpoolPtr threadpool_;
  std::vector<Step> steps_;
  std::vector<bool> materialized_;
};

}  // namespace

std::string xnnpack_refusal(const Graph& graph, size_t op_index) {
  const Operator& op = graph.ops.at(op_index);
  switch (op.kind) {
    case OpKind::conv_2d:
    case OpKind::depthwise_conv_2d: return conv_refusal(graph, op);
    case OpKind::add: return add_refusal(graph, op);
    default: break;
  }
  return std::string(op_name(op.kind)) + " runs on the reference kernel";
}

std::vector<XnnpackStage> plan_xnnpack_stages(const Graph& graph, Isa isa, bool split) {
  std::vector<XnnpackStage> stages;
  std::vector<int64_t> producer(graph.tensors.size(), -1);  // stage writing each tensor
  std::vector<int64_t> block_of(graph.ops.size(), -1);       // the block stage a later op of a block joins
  for (size_t i = 0; i < graph.ops.size(); ++i) {
    const Operator& op = graph.ops[i];
    int64_t ready = -1;  // the last stage producing one of the op's inputs
    for (int32_t t : op.inputs)
      if (t >= 0 && static_cast<size_t>(t) < producer.size()) ready = std::max(ready, producer[static_cast<size_t>(t)]);
    size_t stage = stages.size();
    const bool xnnpack = xnnpack_refusal(graph, i).empty();
    // A block's ops run at its expand's place: their other inputs are
    // constants and the block's input, which is ready by then.
    std::vector<size_t> block;
    if (xnnpack && isa != Isa::xnnpack && block_of[i] < 0) {
      block = fused_block_ops(graph, i, isa);
      if (!std::all_of(block.begin(), block.end(), [&](size_t k) { return xnnpack_refusal(graph, k).empty(); }))
        block.clear();
    }
    if (block_of[i] >= 0) {
      stage = static_cast<size_t>(block_of[i]);
    } else if (!block.empty()) {
      XnnpackStage fused;
      fused.block = true;
      stages.push_back(fused);
      for (size_t k : block) block_of[k] = static_cast<int64_t>(stage);
    } else if (xnnpack && pointwise_refusal(graph, i, isa).empty()) {
      stages.push_back(XnnpackStage{false, {}, /*pointwise=*/true});
    } else if (xnnpack && depthwise_refusal(graph, i, isa).empty()) {
      stages.push_back(XnnpackStage{false, {}, /*pointwise=*/false, /*depthwise=*/true});
    } else if (xnnpack && own_add_refusal(graph, i, isa).empty()) {
      stages.push_back(XnnpackStage{false, {}, /*pointwise=*/false, /*depthwise=*/false, /*add=*/true});
    } else if (xnnpack && split) {
      stages.push_back(XnnpackStage{true, {}});
    } else if (xnnpack) {
      // The earliest subgraph at or after `ready`: within a subgraph, nodes
      // run in definition order, so joining the producer's own is fine.
      for (size_t s = static_cast<size_t>(std::max<int64_t>(ready, 0)); s < stages.size(); ++s)
        if (stages[s].xnnpack) {
          stage = s;
          break;
        }
      if (stage == stages.size()) stages.push_back(XnnpackStage{true, {}});
    } else {
      stages.push_back(XnnpackStage{false, {}});
    }
    stages[stage].ops.push_back(i);
    for (int32_t t : op.outputs)
      if (t >= 0 && static_cast<size_t>(t) < producer.size()) producer[static_cast<size_t>(t)] = static_cast<int64_t>(stage);
  }
  return stages;
}

std::unique_ptr<Runtime> create_xnnpack_runtime(const Graph& graph, int threads, Isa isa, bool profiling) {
  return std::make_unique<XnnpackRuntime>(graph, threads, isa, profiling);
}

}  // namespace lookout::engine
