// lookout bench: median and p90 milliseconds per image for the engine alone
// (invoke on a prepared input tensor) and for the whole pipeline available
// (file bytes -> decode -> resize -> invoke -> detections). JSON on stdout.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/stats.h"
#include "engine/engine.h"
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

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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

}  // namespace

int bench_main(int argc, char** argv) {
  CLI::App app{"Time the engine alone and the decode+resize+inference pipeline on each IMAGE.\n"
               "IMAGE is a JPEG, or a raw input tensor of exactly the model input's size (e.g. 300x300x3 RGB).\n"
               "Prints one JSON object: per-image median/p90/min milliseconds.",
               "lookout bench"};
  std::string model_path = "models/mobilenet_ssd_v2_coco_quant_postprocess.tflite";
  std::string backend = "xnnpack";
  int threads = 1;
  int runs = 10;
  int warmup = 2;
  std::vector<std::string> files;
  app.add_option("--model", model_path, "TFLite model file")->capture_default_str();
  app.add_option("--backend", backend, "reference or xnnpack")->capture_default_str();
  app.add_option("--threads", threads, "threads for the engine")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--runs", runs, "timed runs per image")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "untimed runs before timing")->capture_default_str()->check(CLI::Range(0, 1000));
  std::string decode = "scaled";
  app.add_option("--decode", decode, "scaled (smallest DCT scale covering the model input) or full")
      ->capture_default_str()
      ->check(CLI::IsMember({"scaled", "full"}));
  app.add_option("IMAGE", files, "images (files or directories of .jpg/.jpeg)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::vector<Input> inputs;
  try {
    auto model = engine::Model::from_file(model_path);
    engine::Engine eng(model, {engine::parse_backend(backend), threads});
    const engine::Tensor& in = eng.input_tensor();
    if (in.shape.size() != 4 || in.type != engine::DType::uint8)
      throw engine::Error("bench needs a uint8 [1,H,W,3] image input, the model has '" + in.name + "'");
    const int height = in.dim(1), width = in.dim(2);

    std::vector<std::filesystem::path> paths;
    for (const auto& f : files) {
      if (std::filesystem::is_directory(f)) {
        for (const auto& e : std::filesystem::directory_iterator(f)) {
          std::string ext = e.path().extension().string();
          std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
          if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg")) paths.push_back(e.path());
        }
      } else {
        paths.emplace_back(f);
      }
    }
    std::sort(paths.begin(), paths.end());
    if (paths.empty()) throw std::runtime_error("no images found in the given paths");
    for (const auto& p : paths) {
      Input i{p.filename().string(), read_file(p), false};
      i.raw = i.bytes.size() == in.bytes && !(i.bytes.size() > 2 && i.bytes[0] == 0xFF && i.bytes[1] == 0xD8);
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
        const engine::Detections d = eng.detections();
        pipeline_ms.push_back(ms_since(t0));
        (void)d;
      }
    }
    nlohmann::json out = {
        {"model", model_path}, {"backend", backend}, {"threads", threads}, {"runs_per_image", runs},
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
