// How near the real model's ops run to what our kernels can do on this CPU,
// at each ISA level it runs.
//
// A kernel's floor here is its rate on a shape whose data stay in cache and
// whose sums are long (512 inputs per 1x1 output), so that requantization,
// tails and per-pixel work are amortized away: what its inner loop does on
// this CPU. The 1x1 kernel has one floor per form at avx2 (a filter of small
// values takes the bytes form without fixups, a uniform one the words form).
// The model's ops are timed by the engine's own profile; an op's time at
// floor is its multiply-accumulates at its kernel's floor (ops without
// multiply-accumulates count at their own time). Both run in every
// round, alternating, so the VM's slow and fast phases fall on both; the
// table shows medians over rounds.
//
//   build/kernel_floor [--rounds 20] [--steps] [--photo data/small/darknet__dog.jpg] [--model FILE]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/stats.h"
#include "detect/detector.h"
#include "engine/depthwise_conv.h"
#include "engine/engine.h"
#include "engine/pointwise_conv.h"
#include "image/files.h"
#include "image/image.h"

namespace {

using namespace lookout;
using engine::Isa;

// The 1x1 shape: 24 pixels (a whole number of every level's register
// tiles), 512 inputs, 48 outputs (whole chunks at every level).
constexpr engine::PointwiseShape kPointwise{24, 512, 48};
// The depthwise shape: 12x12x128, stride 1, padding 1 (18 KiB in, 18 out).
constexpr int32_t kSide = 12, kDepth = 128;
constexpr int kWarmupRounds = 2;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<uint8_t> random_bytes(size_t n, int lo, int hi, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(d(rng));
  return v;
}

// GMAC/s of `run` over enough calls for about 2 ms.
template <class Run>
double rate(int64_t macs, int calls, Run&& run) {
  const double t0 = now_ms();
  for (int i = 0; i < calls; ++i) run();
  return static_cast<double>(macs) * calls / ((now_ms() - t0) * 1e6);
}

// One level's kernels on their floor shapes.
class Floors {
 public:
  explicit Floors(Isa isa) {
    std::mt19937 rng(7);
    const engine::Fp32Requantization requant(1.0f / 4096, 128, engine::Range32{0, 255});
    const auto& s = kPointwise;
    input_ = random_bytes(static_cast<size_t>(s.pixels) * static_cast<size_t>(s.in_c), 0, 255, rng);
    output_.assign(static_cast<size_t>(s.pixels) * static_cast<size_t>(s.out_c), 0);
    const size_t filter_bytes = static_cast<size_t>(s.out_c) * static_cast<size_t>(s.in_c);
    // Within 128 +- 12: every lane's four values sum to at most 48, so the
    // bytes form needs no fixups; uniform values take the words form.
    pointwise_.emplace_back(isa, s, random_bytes(filter_bytes, 116, 140, rng).data(), nullptr, 0, 128, requant);
    if (isa == Isa::avx2) {
      pointwise_words_.emplace_back(isa, s, random_bytes(filter_bytes, 0, 255, rng).data(), nullptr, 0, 128, requant);
      if (pointwise_[0].form() != "bytes" || pointwise_[0].fixups() != 0 || pointwise_words_[0].form() != "words")
        throw std::logic_error("the avx2 floor filters did not take the bytes form without fixups and the words form");
    }

    engine::DepthwiseShape d;
    d.batches = 1;
    d.in_h = d.in_w = d.out_h = d.out_w = kSide;
    d.channels = kDepth;
    d.pad_top = d.pad_left = 1;
    depthwise_input_ = random_bytes(static_cast<size_t>(kSide * kSide * kDepth), 0, 255, rng);
    depthwise_output_.assign(depthwise_input_.size(), 0);
    depthwise_.emplace_back(isa, d, random_bytes(9 * kDepth, 0, 255, rng).data(), nullptr, 0, 128, requant);
  }

  // One sample of each floor, GMAC/s, by kernel name (as classify() names them).
  void sample(std::map<std::string, std::vector<double>>& floors) {
    const auto& s = kPointwise;
    const int64_t macs = s.pixels * s.in_c * s.out_c;
    for (const auto* conv : {&pointwise_, &pointwise_words_}) {
      if (conv->empty()) continue;
      const engine::PointwiseConv& c = conv->at(0);
      floors["1x1 " + form_name(c.form())].push_back(
          rate(macs, 600, [&] { c.run(input_.data(), output_.data(), nullptr); }));
    }
    const int64_t depthwise_macs = int64_t{kSide} * kSide * kDepth * 9;
    floors["depthwise"].push_back(rate(depthwise_macs, 1000, [&] {
      depthwise_.at(0).run(depthwise_input_.data(), depthwise_output_.data(), nullptr);
    }));
  }

  static std::string form_name(const std::string& form) { return form.empty() ? "dot" : form; }

 private:
  std::vector<uint8_t> input_, output_, depthwise_input_, depthwise_output_;
  // Small filter values (at avx2 the bytes form), and at avx2 uniform ones
  // (the words form); vectors of 0 or 1, as the kernels have no default constructor.
  std::vector<engine::PointwiseConv> pointwise_, pointwise_words_;
  std::vector<engine::DepthwiseConv3x3> depthwise_;
};

// A profile step's kernels, as names of floors, with each op's MACs.
struct StepKernels {
  size_t first_op = 0;   // as `lookout bench --profile` numbers steps
  std::string category;  // the table row
  std::vector<std::pair<std::string, int64_t>> ops;
};

// "avx2 bytes", "avx2 bytes/words block", "avx512vnni", "reference", ...
StepKernels classify(const engine::Graph& graph, const engine::OpProfile& step) {
  StepKernels k;
  k.first_op = step.ops.at(0);
  const std::string& kernel = step.kernel;
  const bool block = kernel.size() > 6 && kernel.substr(kernel.size() - 6) == " block";
  std::string forms = kernel.substr(0, block ? kernel.size() - 6 : kernel.size());
  const size_t space = forms.find(' ');
  const std::string level = forms.substr(0, space);
  forms = space == std::string::npos ? "" : forms.substr(space + 1);
  if (level == "reference" || level == "xnnpack") {
    k.category = "other ops on " + level;
    return k;
  }
  // A block's forms: "expand/project" or one for both.
  const size_t slash = forms.find('/');
  const std::string first = slash == std::string::npos ? forms : forms.substr(0, slash);
  const std::string second = slash == std::string::npos ? forms : forms.substr(slash + 1);
  int convs = 0;
  for (size_t op : step.ops) {
    const int64_t macs = engine::op_macs(graph, op);
    const engine::OpKind kind = graph.ops.at(op).kind;
    if (kind == engine::OpKind::depthwise_conv_2d)
      k.ops.emplace_back("depthwise", macs);
    else if (kind == engine::OpKind::conv_2d)
      k.ops.emplace_back("1x1 " + Floors::form_name(convs++ == 0 ? first : second), macs);
  }
  if (block)
    k.category = "blocks on " + (forms.empty() ? std::string("dot") : forms);
  else if (k.ops.empty())
    k.category = std::string(engine::op_name(graph.ops.at(step.ops.at(0)).kind)) + " on " + level;
  else
    k.category = std::string(engine::op_name(graph.ops.at(step.ops.at(0)).kind)) + " on " + k.ops.at(0).first;
  return k;
}

// Rows of steps summed per round, then the median over rounds.
struct Row {
  std::string name;
  std::vector<size_t> steps;
};

// One level: its floors, its engine, and per step and round the model's ms
// and the ms at floor.
struct Level {
  Isa isa;
  Floors floors;
  std::unique_ptr<engine::Engine> engine;
  std::vector<StepKernels> steps;
  std::vector<double> seen_ms;  // the profile's sums after the last round
  std::map<std::string, std::vector<double>> floor_samples;
  std::vector<std::vector<double>> ms, floor_ms;  // [step][round]
};

void print_rows(const Level& level, const std::vector<Row>& rows) {
  const auto median = [](const std::vector<double>& v) { return cli::percentile(v, 0.5); };
  const size_t rounds = level.ms.at(0).size();
  for (const Row& row : rows) {
    std::vector<double> ms(rounds, 0), at_floor(rounds, 0);
    int64_t macs = 0;
    for (size_t s : row.steps) {
      for (size_t r = 0; r < rounds; ++r) {
        ms[r] += level.ms[s][r];
        at_floor[r] += level.floor_ms[s][r];
      }
      for (const auto& op : level.steps[s].ops) macs += op.second;
    }
    const double m = median(ms), f = median(at_floor);
    std::printf("%-34s %5zu %9.3f %7.1f %7.1f %12.3f %8.0f%%\n", row.name.c_str(), row.steps.size(), m, macs / 1e6,
                macs / (m * 1e6), f, 100 * f / m);
  }
}

void print_level(const Level& level, bool each_step) {
  std::printf("\n%s: kernel floors (GMAC/s):", engine::isa_name(level.isa));
  for (const auto& [name, samples] : level.floor_samples)
    std::printf("  %s %.0f", name.c_str(), cli::percentile(samples, 0.5));
  std::printf("\n%-34s %5s %9s %7s %7s %12s %9s\n", "model ops", "steps", "model ms", "MMAC", "GMAC/s",
              "at floor ms", "of floor");
  std::map<std::string, Row> kinds;
  Row total{"total", {}};
  for (size_t s = 0; s < level.steps.size(); ++s) {
    Row& kind = kinds[level.steps[s].category];
    kind.name = level.steps[s].category;
    kind.steps.push_back(s);
    total.steps.push_back(s);
  }
  std::vector<Row> rows;
  for (auto& entry : kinds) rows.push_back(std::move(entry.second));
  rows.push_back(std::move(total));
  print_rows(level, rows);
  if (!each_step) return;
  std::vector<Row> steps;
  for (size_t s = 0; s < level.steps.size(); ++s)
    if (!level.steps[s].ops.empty())
      steps.push_back(Row{"#" + std::to_string(level.steps[s].first_op) + " " + level.steps[s].category, {s}});
  print_rows(level, steps);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time our kernels at their floor (in-cache data, long sums) and the real model's ops (the engine's "
               "profile), alternating, at each ISA level this CPU runs; print how near each kind of op runs to "
               "its kernel's floor."};
  std::string model_path = detect::kDefaultModel;
  std::string photo = "data/small/darknet__dog.jpg";
  int rounds = 20;
  bool each_step = false;
  app.add_option("--model", model_path, "TFLite model file")->capture_default_str();
  app.add_option("--photo", photo, "the model's input")->capture_default_str();
  app.add_option("--rounds", rounds, "timed rounds (each: every floor once, the model 20 times)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_flag("--steps", each_step, "also a row per step of our kernels, by its first op's number");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto model = engine::Model::from_file(model_path);
    const engine::Graph& graph = model->graph();
    std::vector<std::unique_ptr<Level>> levels;
    for (Isa isa : {Isa::avx512vnni, Isa::avxvnni, Isa::avx2}) {
      if (!engine::isa_available(isa)) continue;
      engine::Options options(engine::Backend::xnnpack, 1);
      options.isa = isa;
      options.profile = true;
      auto level = std::make_unique<Level>(Level{isa, Floors(isa), std::make_unique<engine::Engine>(model, options),
                                                 {}, {}, {}, {}, {}});
      const engine::Tensor& input = level->engine->input_tensor();
      const image::Image decoded = image::decode_image(image::read_file_bytes(photo), input.dim(2), input.dim(1));
      const std::vector<uint8_t> rgb = image::resize_bilinear(decoded, input.dim(2), input.dim(1)).rgb;
      std::memcpy(level->engine->input().data(), rgb.data(), rgb.size());
      levels.push_back(std::move(level));
    }
    if (levels.empty()) {
      std::fprintf(stderr, "kernel_floor: this CPU runs none of our kernels (avx2, avxvnni or avx512vnni)\n");
      return 77;
    }

    constexpr int kInvokes = 20;
    for (int r = -kWarmupRounds; r < rounds; ++r)
      for (auto& level : levels) {
        std::map<std::string, std::vector<double>> floors;
        level->floors.sample(floors);
        for (int i = 0; i < kInvokes; ++i) level->engine->invoke();
        const std::vector<engine::OpProfile> profile = level->engine->profile();
        if (level->steps.empty()) {
          for (const auto& step : profile) level->steps.push_back(classify(graph, step));
          level->seen_ms.assign(profile.size(), 0);
          level->ms.assign(profile.size(), {});
          level->floor_ms.assign(profile.size(), {});
        }
        for (size_t s = 0; r >= 0 && s < profile.size(); ++s) {
          const StepKernels& k = level->steps[s];
          const double ms = (profile[s].ms - level->seen_ms[s]) / kInvokes;
          double at_floor = 0;
          for (const auto& [kernel, macs] : k.ops)
            at_floor += static_cast<double>(macs) / (floors.at(kernel).at(0) * 1e6);
          // Ops with no floor here (concatenation, logistic, the reference's) count at their own time.
          level->ms[s].push_back(ms);
          level->floor_ms[s].push_back(k.ops.empty() ? ms : at_floor);
        }
        if (r >= 0)
          for (const auto& [name, samples] : floors) level->floor_samples[name].push_back(samples.at(0));
        for (size_t s = 0; s < profile.size(); ++s) level->seen_ms[s] = profile[s].ms;
      }

    std::printf("cpu: %s\nmodel: %s, input %s\n%d rounds, each sampling every floor once and running the model "
                "%d times per level, after %d untimed; medians over rounds\n",
                engine::cpu_name().c_str(), model_path.c_str(), photo.c_str(), rounds, kInvokes, kWarmupRounds);
    for (const auto& level : levels) print_level(*level, each_step);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_floor: %s\n", e.what());
    return 2;
  }
}
