// lookout bench: median and p90 milliseconds per image for the engine alone
// (invoke on a prepared input tensor) and for the whole pipeline available
// (file bytes -> decode -> resize -> invoke -> detections), with the CPU and
// the ISA level of the engine's kernels. JSON on stdout; with --profile, a
// per-op table instead.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/stats.h"
#include "detect/detector.h"
#include "detect/ssd_outputs.h"
#include "engine/engine.h"
#include "image/files.h"
#include "image/image.h"

namespace lookout::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

nlohmann::json stats(const std::vector<double>& v) {
  return {{"mean", mean(v)}, {"median", percentile(v, 0.5)}, {"p90", percentile(v, 0.9)}, {"min", percentile(v, 0.0)}};
}

struct Input {
  std::string name;
  std::vector<uint8_t> bytes;   // the file
  bool raw = false;             // a ready input tensor (e.g. dumped by the TFLite oracle)
};

// Fills the engine input from the file: raw tensors verbatim, images decoded
// at the smallest scale covering the model input and resized to it.
// Returns the milliseconds spent decoding and resizing (0 for raw tensors).
// With scaled_decode, JPEGs decode at the smallest DCT scale covering the
// model input; without, at full size (the comparison the issue asks for).
double load_input(const Input& in, engine::Engine& eng, int width, int height, bool scaled_decode) {
  auto dst = eng.input();
  if (in.raw) {
    std::memcpy(dst.data(), in.bytes.data(), dst.size());
    return 0.0;
  }
  try {
    const auto t0 = Clock::now();
    const int min_w = scaled_decode ? width : image::kFullSize, min_h = scaled_decode ? height : image::kFullSize;
    const image::Image decoded = image::decode_image(in.bytes, min_w, min_h);
    const image::Image resized = image::resize_bilinear(decoded, width, height);
    const double ms = ms_since(t0);
    std::memcpy(dst.data(), resized.rgb.data(), dst.size());
    return ms;
  } catch (const image::DecodeError& e) {
    throw image::DecodeError(in.name + ": " + e.what());
  }
}

// "CONV_2D 1x1/1 150x150x32->16" style: what an op computes.
std::string describe_op(const engine::Graph& g, size_t i) {
  const engine::Operator& op = g.ops[i];
  std::string text = engine::op_name(op.kind);
  const auto* conv = std::get_if<engine::ConvOptions>(&op.options);
  if (conv == nullptr || op.inputs.size() < 2 || op.outputs.empty() || op.inputs[0] < 0 || op.inputs[1] < 0 ||
      op.outputs[0] < 0)
    return text;
  const engine::Tensor& in = g.tensors[static_cast<size_t>(op.inputs[0])];
  const engine::Tensor& filter = g.tensors[static_cast<size_t>(op.inputs[1])];
  const engine::Tensor& out = g.tensors[static_cast<size_t>(op.outputs[0])];
  if (in.shape.size() != 4 || filter.shape.size() != 4 || out.shape.size() != 4) return text;
  char buf[96];
  std::snprintf(buf, sizeof buf, " %dx%d/%d %dx%dx%d->%d", filter.dim(1), filter.dim(2), conv->stride_h, in.dim(1),
                in.dim(2), in.dim(3), out.dim(3));
  return text + buf;
}

// The per-op table: each step's mean ms per run, share of the total, MACs
// and GMAC/s and the kernel that ran it; then the same per op kind and kernel.
void print_profile(const engine::Engine& eng, const std::string& backend, int threads) {
  const engine::Graph& g = eng.model().graph();
  const std::vector<engine::OpProfile> profile = eng.profile();
  double total = 0;
  for (const auto& p : profile) total += p.runs > 0 ? p.ms / static_cast<double>(p.runs) : 0.0;
  const auto gmacs = [](int64_t macs, double ms) { return ms > 0 ? static_cast<double>(macs) / ms / 1e6 : 0.0; };
  std::printf("cpu: %s\nbackend: %s, ISA level: %s, threads: %d\n", engine::cpu_name().c_str(), backend.c_str(),
              engine::isa_name(eng.isa()), threads);
  std::printf("%-5s %-44s %-22s %8s %6s %9s %7s\n", "op", "what", "kernel", "ms", "share", "MMAC", "GMAC/s");
  struct Group { double ms = 0; int64_t macs = 0; int steps = 0; };
  std::map<std::string, Group> groups;
  for (const auto& p : profile) {
    const double ms = p.runs > 0 ? p.ms / static_cast<double>(p.runs) : 0.0;
    const std::string op = p.ops.size() == 1 ? "#" + std::to_string(p.ops[0])
                                             : "#" + std::to_string(p.ops.front()) + "+";
    // An inverted-residual block fused (the engine's fused_block.h): one
    // step, named by its expand op, one row of the kind table per kernel.
    const bool block = p.kernel.ends_with(" block");
    const std::string what = p.ops.size() == 1 ? describe_op(g, p.ops[0])
                             : block ? describe_op(g, p.ops[0]) + " +" + std::to_string(p.ops.size() - 1) + " fused"
                                     : std::to_string(p.ops.size()) + " ops in one subgraph";
    std::printf("%-5s %-44s %-22s %8.3f %5.1f%% %9.2f %7.1f\n", op.c_str(), what.c_str(), p.kernel.c_str(), ms,
                total > 0 ? 100.0 * ms / total : 0.0, static_cast<double>(p.macs) / 1e6, gmacs(p.macs, ms));
    if (block) {
      Group& group = groups["inverted-residual blocks on " + p.kernel.substr(0, p.kernel.size() - 6)];
      group.ms += ms;
      group.macs += p.macs;
      ++group.steps;
      continue;
    }
    for (size_t i : p.ops) {
      Group& group = groups[std::string(engine::op_name(g.ops[i].kind)) + " on " + p.kernel];
      group.ms += ms / static_cast<double>(p.ops.size());
      group.macs += engine::op_macs(g, i);
      ++group.steps;
    }
  }
  std::printf("\n%-44s %5s %8s %6s %9s %7s\n", "op kind on kernel", "ops", "ms", "share", "MMAC", "GMAC/s");
  for (const auto& [name, group] : groups)
    std::printf("%-44s %5d %8.3f %5.1f%% %9.2f %7.1f\n", name.c_str(), group.steps, group.ms,
                total > 0 ? 100.0 * group.ms / total : 0.0, static_cast<double>(group.macs) / 1e6,
                gmacs(group.macs, group.ms));
  int64_t macs = 0;
  for (size_t i = 0; i < g.ops.size(); ++i) macs += engine::op_macs(g, i);
  std::printf("%-44s %5zu %8.3f %5.1f%% %9.2f %7.1f\n", "total", g.ops.size(), total, 100.0,
              static_cast<double>(macs) / 1e6, gmacs(macs, total));
}

}  // namespace

int bench_main(int argc, char** argv) {
  CLI::App app{"Time the engine alone and the decode+resize+inference pipeline on each IMAGE.\n"
               "IMAGE is a JPEG or PNG, or a raw input tensor of exactly the model input's size (e.g. 300x300x3 RGB).\n"
               "Prints one JSON object: per-image median/p90/min milliseconds, the CPU and the ISA level;\n"
               "with --profile, a table of the time per op (each XNNPACK op then runs in a subgraph of its own;\n"
               "an inverted-residual block our kernels run fused is timed as one step).",
               "lookout bench"};
  std::string model_path = detect::kDefaultModel;
  std::string backend = "xnnpack";
  std::string isa;
  bool profile = false;
  int threads = 1;
  int runs = 10;
  int warmup = 2;
  std::vector<std::string> files;
  app.add_option("--model", model_path, "TFLite model file")->capture_default_str();
  app.add_option("--backend", backend, "reference or xnnpack")->capture_default_str();
  app.add_option("--isa", isa,
                 "ISA level of our own kernels with the xnnpack backend: avx512vnni, avxvnni, avx2 or xnnpack (none of "
                 "ours) "
                 "[default: $LOOKOUT_ISA, else the best this CPU runs]")
      ->check(CLI::IsMember({"avx512vnni", "avxvnni", "avx2", "xnnpack"}));
  app.add_flag("--profile", profile,
               "print the time per op, its share, MACs, GMAC/s and kernel (its ISA level; at avx2 also the 1x1 "
               "kernel's form: bytes for most trained filters, words otherwise)");
  app.add_option("--threads", threads, "threads for the engine")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--runs", runs, "timed runs per image")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "untimed runs before timing")->capture_default_str()->check(CLI::Range(0, 1000));
  std::string decode = "scaled";
  app.add_option("--decode", decode, "scaled (smallest DCT scale covering the model input) or full")
      ->capture_default_str()
      ->check(CLI::IsMember({"scaled", "full"}));
  app.add_option("IMAGE", files, "images (files, or directories walked for .jpg/.jpeg/.png)")->required();
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;

  std::vector<Input> inputs;
  try {
    auto model = engine::Model::from_file(model_path);
    engine::Options options{engine::parse_backend(backend), threads};
    if (!isa.empty()) options.isa = engine::parse_isa(isa);
    options.profile = profile;
    engine::Engine eng(model, options);
    const engine::Tensor& in = eng.input_tensor();
    if (in.shape.size() != 4 || in.type != engine::DType::uint8)
      throw engine::Error("bench needs a uint8 [1,H,W,3] image input, the model has '" + in.name + "'");
    const int height = in.dim(1), width = in.dim(2);

    std::vector<std::filesystem::path> paths;
    for (const auto& f : files) {
      if (std::filesystem::is_directory(f)) {
        const std::vector<std::filesystem::path> found = image::find_images(f);
        paths.insert(paths.end(), found.begin(), found.end());
      } else {
        paths.emplace_back(f);
      }
    }
    if (paths.empty()) throw std::runtime_error("no images found in the given paths");
    for (const auto& p : paths) {
      Input i{p.filename().string(), image::read_file_bytes(p), false};
      // A file of exactly the input tensor's size that is not a JPEG or PNG
      // is a raw tensor.
      i.raw = i.bytes.size() == in.bytes && !image::has_image_extension(p);
      inputs.push_back(std::move(i));
    }

    const bool scaled = decode == "scaled";
    std::vector<double> engine_ms, pipeline_ms, decode_ms;
    for (const Input& input : inputs) {
      load_input(input, eng, width, height, scaled);
      for (int r = 0; r < warmup; ++r) eng.invoke();
      for (int r = 0; r < runs; ++r) {
        const auto t0 = Clock::now();
        eng.invoke();
        engine_ms.push_back(ms_since(t0));
      }
      for (int r = 0; r < runs; ++r) {
        const auto t0 = Clock::now();
        decode_ms.push_back(load_input(input, eng, width, height, scaled));
        eng.invoke();
        const detect::SsdOutputs d = detect::read_ssd_outputs(eng);
        pipeline_ms.push_back(ms_since(t0));
        (void)d;
      }
    }
    if (profile) {
      print_profile(eng, backend, threads);
      return 0;
    }
    nlohmann::json out = {
        {"model", model_path}, {"backend", backend}, {"threads", threads}, {"runs_per_image", runs},
        {"cpu", engine::cpu_name()},
        {"isa", options.backend == engine::Backend::reference ? "reference" : engine::isa_name(eng.isa())},
        {"images", inputs.size()}, {"engine_ms", stats(engine_ms)}, {"pipeline_ms", stats(pipeline_ms)},
        {"decode", decode}, {"decode_resize_ms", stats(decode_ms)},
        {"pipeline", "bytes in memory -> decode -> resize bilinear -> invoke -> detections"}};
    std::cout << out.dump(2) << "\n";
    return 0;
  } catch (const image::DecodeError& e) {
    std::cerr << "lookout bench: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lookout bench: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace lookout::cli
