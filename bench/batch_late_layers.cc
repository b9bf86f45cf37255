// What running N images through the engine's convolutions together gains
// per image, on the real model at each ISA level this CPU runs.
//
// The engine's Model is batch 1 (its RESHAPEs and post-process say so), but
// every CONV_2D, DEPTHWISE_CONV_2D and ADD takes the batch from its tensors'
// first dimension. So the program copies the model's Graph, keeps those ops
// (the backbone and the box predictors: everything before the SSD's
// reshapes) and makes every activation N images deep; the engine's own
// XNNPACK runtime then builds them with the model's filters and quantization,
// exactly as for one image. Batches 1, 2 and 4 and the whole model at batch
// 1 (for the share of the rest) run in every round, in rotating order, so the
// VM's slow and fast phases fall on all of them alike; each round's time per
// layer group is a sample, and the table shows medians over rounds. A run
// the scheduler preempted (other processes share the cores) is no sample:
// its wall time counts the time it waited. Before timing, every image of
// every batch must come out byte for byte as it does alone.
//
//   build/batch_late_layers [--rounds 200] [--photos data/small] [--model FILE]
//
// On a machine other processes keep busy, most runs are preempted; under
// `chrt -f 1` (SCHED_FIFO, as root) almost none are.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/stats.h"
#include "detect/detector.h"
#include "engine/engine.h"
#include "engine/runtime.h"
#include "image/files.h"
#include "image/image.h"

namespace {

using namespace lookout;
using engine::Graph;
using engine::Isa;
using engine::OpKind;
using engine::Runtime;

constexpr int kBatches[] = {1, 2, 4};
// Layers from this output size down are the late ones (19x19 .. 1x1, up to
// 960 channels), where the filters are large next to the activations.
constexpr int kLateSize = 19;
constexpr int kWarmupRounds = 5;

// This thread's involuntary context switches so far.
long involuntary_switches() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nivcsw;
}

bool batchable(OpKind kind) {
  return kind == OpKind::conv_2d || kind == OpKind::depthwise_conv_2d || kind == OpKind::add;
}

// The model's convolutions and ADDs with every activation `batch` images
// deep; the tensors they hand to the dropped ops (the box predictors'
// outputs) are the graph's outputs.
Graph batched_convolutions(const Graph& model, int batch) {
  Graph g = model;  // constants keep pointing into the Model
  g.ops.clear();
  std::vector<bool> activation(g.tensors.size(), false);
  for (const engine::Operator& op : model.ops) {
    if (!batchable(op.kind)) continue;
    g.ops.push_back(op);
    for (const auto* ids : {&op.inputs, &op.outputs})
      for (int32_t t : *ids)
        if (t >= 0 && !g.tensors[static_cast<size_t>(t)].is_constant()) activation[static_cast<size_t>(t)] = true;
  }
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (!activation[t]) continue;
    engine::Tensor& tensor = g.tensors[t];
    if (tensor.shape.empty() || tensor.shape[0] != 1)
      throw std::runtime_error("tensor '" + tensor.name + "' " + engine::shape_string(tensor.shape) +
                               " is not one image deep");
    tensor.shape[0] = batch;
    tensor.bytes *= static_cast<size_t>(batch);
  }
  g.outputs.clear();
  for (const engine::Operator& op : model.ops)
    if (!batchable(op.kind))
      for (int32_t t : op.inputs)
        if (t >= 0 && activation[static_cast<size_t>(t)]) g.outputs.push_back(t);
  if (g.outputs.empty()) throw std::runtime_error("the model's convolutions hand nothing to its other ops");
  return g;
}

// The layer group of op `i`: its output's height and width and its kind
// ("19x19 CONV_2D"), or "rest" for the ops that never run batched.
std::string group_of(const Graph& g, size_t i) {
  const engine::Operator& op = g.ops[i];
  if (!batchable(op.kind)) return "rest";
  const engine::Tensor& out = g.tensors[static_cast<size_t>(op.outputs.at(0))];
  return std::to_string(out.dim(1)) + "x" + std::to_string(out.dim(2)) + " " + engine::op_name(op.kind);
}

bool batched(const std::string& group) { return group != "rest"; }
int output_size(const std::string& group) { return std::stoi(group); }
std::string kind_of(const std::string& group) { return group.substr(group.find(' ') + 1); }
bool is_late(const std::string& group) { return batched(group) && output_size(group) <= kLateSize; }

// One runtime timed round by round: the milliseconds per image of each layer
// group in each round.
struct Config {
  Isa isa;
  int batch;  // 0: the whole model (batch 1)
  std::unique_ptr<Graph> graph;
  std::unique_ptr<Runtime> runtime;
  std::vector<std::string> step_group;
  std::vector<double> seen_ms;                        // cumulative per step
  std::vector<std::map<std::string, double>> rounds;  // per round: group -> ms per image
  std::vector<bool> clean;                            // per round: not preempted

  Config(const engine::Model& model, Isa isa, int batch)
      : isa(isa), batch(batch),
        graph(std::make_unique<Graph>(batch == 0 ? model.graph() : batched_convolutions(model.graph(), batch))),
        runtime(engine::create_xnnpack_runtime(*graph, /*threads=*/1, isa, /*profiling=*/true)) {
    for (const engine::StepProfile& s : runtime->profile()) step_group.push_back(group_of(*graph, s.ops.at(0)));
    seen_ms.assign(step_group.size(), 0.0);
  }
  int images() const { return std::max(batch, 1); }

  uint8_t* image_slot(int k) const {
    const int32_t input = graph->inputs.at(0);
    return runtime->data(input) + static_cast<size_t>(k) * graph->tensors[static_cast<size_t>(input)].bytes /
                                      static_cast<size_t>(images());
  }

  void invoke(bool timed) {
    const long switches = involuntary_switches();
    runtime->invoke();
    if (timed) clean.push_back(involuntary_switches() == switches);
    std::map<std::string, double> ms;
    const auto& profile = runtime->profile();
    for (size_t s = 0; s < profile.size(); ++s) {
      ms[step_group[s]] += (profile[s].ms - seen_ms[s]) / images();
      seen_ms[s] = profile[s].ms;
    }
    if (timed) rounds.push_back(std::move(ms));
  }
};

using Photos = std::vector<std::vector<uint8_t>>;

// The photos, decoded and resized to the model input as `lookout bench` does.
Photos load_photos(const std::filesystem::path& dir, const engine::Tensor& input, size_t count) {
  Photos photos;
  for (const auto& path : image::find_images(dir)) {
    if (photos.size() == count) break;
    const image::Image decoded = image::decode_image(image::read_file_bytes(path), input.dim(2), input.dim(1));
    photos.push_back(image::resize_bilinear(decoded, input.dim(2), input.dim(1)).rgb);
  }
  if (photos.size() < count || photos[0].size() != input.bytes)
    throw std::runtime_error("need " + std::to_string(count) + " photos in " + dir.string());
  return photos;
}

// Image k of `c`'s input is photo k.
void fill_images(Config& c, const Photos& photos) {
  for (int k = 0; k < c.images(); ++k)
    std::memcpy(c.image_slot(k), photos.at(static_cast<size_t>(k)).data(), photos[0].size());
}

// Each image of `batched` gives the bytes its photo gives alone in `single`.
void check_batched_outputs(Config& single, Config& batched, const Photos& photos) {
  fill_images(batched, photos);
  batched.invoke(false);
  for (int k = 0; k < batched.batch; ++k) {
    std::memcpy(single.image_slot(0), photos[static_cast<size_t>(k)].data(), photos[0].size());
    single.invoke(false);
    for (int32_t t : single.graph->outputs) {
      const size_t bytes = single.graph->tensors[static_cast<size_t>(t)].bytes;
      if (std::memcmp(single.runtime->data(t), batched.runtime->data(t) + static_cast<size_t>(k) * bytes, bytes) != 0)
        throw std::runtime_error(std::string(engine::isa_name(batched.isa)) + " batch " +
                                 std::to_string(batched.batch) + ": image " + std::to_string(k) + "'s tensor '" +
                                 single.graph->tensors[static_cast<size_t>(t)].name + "' differs from its run alone");
    }
  }
}

// The median of f(round) over the rounds in which none of `configs` was
// preempted (f pairs values of one round).
template <class F>
double median_over_rounds(const std::vector<const Config*>& configs, F&& f) {
  std::vector<double> v;
  for (size_t r = 0; r < configs.at(0)->clean.size(); ++r)
    if (std::all_of(configs.begin(), configs.end(), [r](const Config* c) { return c->clean[r]; })) v.push_back(f(r));
  return cli::percentile(v, 0.5);
}

size_t clean_rounds(const Config& c) { return static_cast<size_t>(std::count(c.clean.begin(), c.clean.end(), true)); }

using Pick = std::function<bool(const std::string&)>;

double sum_groups(const std::map<std::string, double>& round, const Pick& keep) {
  double ms = 0;
  for (const auto& [group, group_ms] : round)
    if (keep(group)) ms += group_ms;
  return ms;
}

void print_isa(const std::vector<Config*>& configs) {
  const Config& whole = *configs.at(0);  // batch 0 (the whole model), then kBatches
  const Config& one = *configs.at(1);
  std::printf("\nISA level %s, 1 thread: ms per image (median over rounds), ratio to batch 1 (median of each "
              "round's ratio)\nrounds not preempted:",
              engine::isa_name(whole.isa));
  for (const Config* c : configs)
    std::printf(" %s %zu", c->batch == 0 ? "whole model" : ("batch " + std::to_string(c->batch)).c_str(),
                clean_rounds(*c));
  std::printf("\n%-32s %8s", "layers", "batch 1");
  for (size_t c = 2; c < configs.size(); ++c) std::printf("  batch %d  ratio", configs[c]->batch);
  std::printf("\n");

  struct Row { std::string label; Pick keep; };
  std::vector<Row> rows;
  std::set<int, std::greater<>> sizes;
  for (const auto& [group, ms] : one.rounds.at(0)) sizes.insert(output_size(group));
  for (int size : sizes)
    rows.push_back({"output " + std::to_string(size) + "x" + std::to_string(size),
                    [size](const std::string& g) { return output_size(g) == size; }});
  for (const char* kind : {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD"})
    rows.push_back(
        {std::string("late ") + kind, [kind](const std::string& g) { return is_late(g) && kind_of(g) == kind; }});
  const Pick late = is_late;
  const Pick all = batched;
  rows.push_back({"late (19x19 .. 1x1)", late});
  rows.push_back({"early (150x150 .. 38x38)", [](const std::string& g) { return batched(g) && !is_late(g); }});
  rows.push_back({"all convolutions and ADDs", all});
  for (const Row& row : rows) {
    const auto ms = [&](const Config& c, size_t r) { return sum_groups(c.rounds[r], row.keep); };
    std::printf("%-32s %8.3f", row.label.c_str(), median_over_rounds({&one}, [&](size_t r) { return ms(one, r); }));
    for (size_t c = 2; c < configs.size(); ++c) {
      const Config& n = *configs[c];
      std::printf("  %7.3f  %5.3f", median_over_rounds({&n}, [&](size_t r) { return ms(n, r); }),
                  median_over_rounds({&one, &n}, [&](size_t r) { return ms(n, r) / ms(one, r); }));
    }
    std::printf("\n");
  }

  // The whole engine per image when the late layers (or all convolutions)
  // run batched and everything else as now.
  const auto whole_ms = [&](size_t r) { return sum_groups(whole.rounds[r], [](const std::string&) { return true; }); };
  const auto share = [&](const Pick& keep) {
    const auto fraction = [&](size_t r) { return sum_groups(one.rounds[r], keep) / whole_ms(r); };
    return 100 * median_over_rounds({&whole, &one}, fraction);
  };
  std::printf("whole engine at batch 1: %.3f ms per image; late layers %.1f %% of it, all convolutions and ADDs "
              "%.1f %%\n",
              median_over_rounds({&whole}, whole_ms), share(late), share(all));
  for (const auto& [label, keep] : {std::pair{"late layers", late}, std::pair{"all convolutions and ADDs", all}})
    for (size_t c = 2; c < configs.size(); ++c) {
      const Config& n = *configs[c];
      const double gain = median_over_rounds({&whole, &one, &n}, [&](size_t r) {
        const double before = whole_ms(r);
        return before / (before - sum_groups(one.rounds[r], keep) + sum_groups(n.rounds[r], keep)) - 1;
      });
      std::printf("images/s per core, whole engine, %s batched by %d: %+.1f %%\n", label, n.batch, 100 * gain);
    }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the real model's convolutions at batch 1, 2 and 4 (per layer group, alternating in every "
               "round) at each ISA level this CPU runs; print ms per image and the ratio to batch 1."};
  std::string model_path = detect::kDefaultModel;
  std::string photos_dir = "data/small";
  int rounds = 200;
  app.add_option("--model", model_path, "TFLite model file")->capture_default_str();
  app.add_option("--photos", photos_dir, "directory of photos for the inputs")->capture_default_str();
  app.add_option("--rounds", rounds, "timed rounds")->capture_default_str()->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);

  try {
    const auto model = engine::Model::from_file(model_path);
    const engine::Tensor& input = model->graph().tensors.at(static_cast<size_t>(model->graph().inputs.at(0)));
    const auto photos = load_photos(photos_dir, input, static_cast<size_t>(kBatches[std::size(kBatches) - 1]));

    std::vector<std::unique_ptr<Config>> configs;
    std::vector<std::vector<Config*>> by_isa;
    for (Isa isa : {Isa::avx512vnni, Isa::avxvnni, Isa::avx2}) {
      if (!engine::isa_available(isa)) continue;
      by_isa.emplace_back();
      for (int batch : {0, kBatches[0], kBatches[1], kBatches[2]}) {
        configs.push_back(std::make_unique<Config>(*model, isa, batch));
        by_isa.back().push_back(configs.back().get());
      }
      const std::vector<Config*>& level = by_isa.back();
      for (size_t c = 2; c < level.size(); ++c) check_batched_outputs(*level[1], *level[c], photos);
    }
    if (configs.empty()) throw std::runtime_error("this CPU runs none of our kernels (avx2, avxvnni or avx512vnni)");
    for (auto& c : configs) fill_images(*c, photos);

    for (int r = -kWarmupRounds; r < rounds; ++r)
      for (size_t i = 0; i < configs.size(); ++i)
        configs[(i + static_cast<size_t>(r + kWarmupRounds)) % configs.size()]->invoke(r >= 0);

    std::printf("cpu: %s\nmodel: %s\n%d rounds, each running every configuration below once in rotating order, "
                "after %d untimed; batched outputs checked against single-image runs\n",
                engine::cpu_name().c_str(), model_path.c_str(), rounds, kWarmupRounds);
    for (const auto& isa_configs : by_isa) print_isa(isa_configs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "batch_late_layers: %s\n", e.what());
    return 2;
  }
}
