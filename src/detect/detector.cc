// Detector: image bytes -> decode (scaled, upright) -> bilinear resize to the
// model input -> engine -> filtered, labelled detections. Labels live in
// labels.cc.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "detect/detector.h"
#include "detect/ssd_outputs.h"

namespace lookout::detect {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// The image input: [1, H, W, 3], NHWC as TFLite's SSD models take it.
constexpr size_t kInputRank = 4;
constexpr size_t kInputBatchDim = 0;
constexpr size_t kInputHeightDim = 1;
constexpr size_t kInputWidthDim = 2;
constexpr size_t kInputChannelsDim = 3;
constexpr int32_t kInputChannels = 3;

// TFLite_Detection_PostProcess's outputs (ssd_outputs.h): boxes [1,R,4]
// (ymin, xmin, ymax, xmax), classes [1,R], scores [1,R], count [1];
// read_ssd_outputs() reads them, raw_outputs() copies them as they are.

// Float SSD models from the TFLite object-detection examples take RGB
// normalized to [-1, 1]: (v - mean) / std with mean = std = 127.5.
constexpr float kFloatInputMean = 127.5f;
constexpr float kFloatInputStd = 127.5f;

std::string describe(const engine::Tensor& t) {
  return "'" + t.name + "' (" + engine::dtype_name(t.type) + " " + engine::shape_string(t.shape) + ")";
}

// The input must be one uint8 or float32 RGB image, [1, H, W, 3].
void check_input(const engine::Graph& g) {
  if (g.inputs.size() != 1)
    throw engine::Error("the model has " + std::to_string(g.inputs.size()) +
                        " inputs; the detector needs exactly one image input [1,H,W,3]");
  const engine::Tensor& t = g.tensors.at(static_cast<size_t>(g.inputs[0]));
  if (t.type != engine::DType::uint8 && t.type != engine::DType::float32)
    throw engine::Error("the model's input " + describe(t) + " must be uint8 or float32 to take an RGB image");
  if (t.shape.size() != kInputRank || t.dim(kInputBatchDim) != 1 || t.dim(kInputChannelsDim) != kInputChannels)
    throw engine::Error("the model's input " + describe(t) + " must have shape [1,H,W,3] (one RGB image)");
}

// The graph outputs must be those of TFLite_Detection_PostProcess, in its
// order (the engine's prepare has checked their shapes and types).
void check_outputs(const engine::Graph& g) {
  if (g.outputs.size() != kSsdOutputs)
    throw engine::Error("the model has " + std::to_string(g.outputs.size()) +
                        " outputs; the detector needs the 4 outputs of TFLite_Detection_PostProcess "
                        "(boxes, classes, scores, count)");
  const auto postprocess = std::find_if(g.ops.begin(), g.ops.end(), [&](const engine::Operator& op) {
    return op.kind == engine::OpKind::detection_postprocess;
  });
  if (postprocess == g.ops.end() || postprocess->outputs != g.outputs) {
    std::string names;
    for (int32_t i : g.outputs) names += (names.empty() ? "" : ", ") + describe(g.tensors.at(static_cast<size_t>(i)));
    throw engine::Error("the model's outputs " + names +
                        " are not the outputs of TFLite_Detection_PostProcess (boxes, classes, scores, count, in "
                        "that order)");
  }
}

std::shared_ptr<const engine::Model> checked_model(std::shared_ptr<const engine::Model> model) {
  if (!model) throw engine::Error("the detector needs a model");
  check_input(model->graph());
  check_outputs(model->graph());
  return model;
}

void check_filter(const Filter& f) {
  if (!std::isfinite(f.threshold))
    throw std::invalid_argument("Filter::threshold must be finite, got " + std::to_string(f.threshold));
  if (f.max_detections < 0)
    throw std::invalid_argument("Filter::max_detections must be >= 0, got " + std::to_string(f.max_detections));
}

float clamp01(float v) { return std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f); }

}  // namespace

Detector::Detector(std::shared_ptr<const engine::Model> model, std::shared_ptr<const Labels> labels,
                   DetectorOptions options)
    : labels_(std::move(labels)),
      options_(std::move(options)),
      engine_(checked_model(std::move(model)), options_.engine) {
  if (!labels_) throw std::invalid_argument("the detector needs labels");
  check_filter(options_.filter);
  const engine::Tensor& in = engine_.input_tensor();
  input_height_ = in.dim(kInputHeightDim);
  input_width_ = in.dim(kInputWidthDim);
}

Result Detector::detect(std::span<const uint8_t> bytes) { return detect(bytes, options_.filter); }

Result Detector::detect(std::span<const uint8_t> bytes, const Filter& filter) {
  check_filter(filter);
  Result result;

  // Decode: upright RGB, scaled down by the JPEG's DCT when that still
  // covers the model input.
  const auto t0 = Clock::now();
  image::DecodeOptions decode_options;
  if (options_.scaled_decode) {
    decode_options.min_width = input_width_;
    decode_options.min_height = input_height_;
  }  // else the default: full size
  decode_options.max_pixels = options_.max_pixels;
  decode_options.apply_orientation = true;
  const image::Decoded decoded = image::decode(bytes, decode_options);
  result.width = decoded.full_width;
  result.height = decoded.full_height;
  result.orientation = decoded.orientation;

  // Preprocess: stretch to the model input (no letterbox).
  const auto t1 = Clock::now();
  const image::Image resized = image::resize_bilinear(decoded.image, input_width_, input_height_);
  result.timing.decode_ms = ms_between(t0, t1);
  result.timing.preprocess_ms = ms_between(t1, Clock::now());
  infer(resized.rgb, filter, result);
  return result;
}

Result Detector::detect_rgb(std::span<const uint8_t> rgb, const Filter& filter) {
  check_filter(filter);
  Result result;
  result.width = input_width_;
  result.height = input_height_;
  infer(rgb, filter, result);
  return result;
}

void Detector::infer(std::span<const uint8_t> rgb, const Filter& filter, Result& result) {
  // Fill the input tensor.
  const auto t1 = Clock::now();
  const size_t values = static_cast<size_t>(input_width_) * static_cast<size_t>(input_height_) * kInputChannels;
  if (rgb.size() != values)
    throw std::invalid_argument("the model input takes " + std::to_string(values) + " RGB values (" +
                                std::to_string(input_height_) + "x" + std::to_string(input_width_) + "x3), got " +
                                std::to_string(rgb.size()));
  const std::span<uint8_t> input = engine_.input();
  if (engine_.input_tensor().type == engine::DType::uint8) {
    // Quantized models take the RGB bytes as they are (their input
    // quantization maps 0..255 to about [-1, 1] itself: SSD MobileNet V2's
    // is (q - 128) / 128).
    std::memcpy(input.data(), rgb.data(), values);
  } else {
    static_assert(sizeof(float) == 4, "float32 input tensor");
    std::vector<float> normalized(values);
    for (size_t i = 0; i < values; ++i)
      normalized[i] = (static_cast<float>(rgb[i]) - kFloatInputMean) / kFloatInputStd;
    std::memcpy(input.data(), normalized.data(), values * sizeof(float));
  }

  const auto t2 = Clock::now();
  engine_.invoke();

  // Postprocess: the outputs as they are, then threshold, class filter,
  // best first (stable: the model's order among equal scores), cap, then
  // labels and boxes.
  const auto t3 = Clock::now();
  result.raw = raw_outputs();
  const SsdOutputs raw = read_ssd_outputs(engine_);
  std::vector<int> keep;
  for (int i = 0; i < raw.count; ++i) {
    const auto k = static_cast<size_t>(i);
    if (!(raw.scores[k] >= filter.threshold)) continue;  // also drops NaN
    if (!filter.classes.empty() &&
        std::find(filter.classes.begin(), filter.classes.end(), raw.classes[k]) == filter.classes.end())
      continue;
    keep.push_back(i);
  }
  std::stable_sort(keep.begin(), keep.end(), [&](int a, int b) {
    return raw.scores[static_cast<size_t>(a)] > raw.scores[static_cast<size_t>(b)];
  });
  if (keep.size() > static_cast<size_t>(filter.max_detections)) keep.resize(static_cast<size_t>(filter.max_detections));

  const auto full_w = static_cast<float>(result.width);
  const auto full_h = static_cast<float>(result.height);
  result.detections.reserve(keep.size());
  for (int i : keep) {
    const auto k = static_cast<size_t>(i);
    const SsdOutputs::Box& b = raw.boxes[k];  // ymin, xmin, ymax, xmax
    Detection d;
    d.class_id = raw.classes[k];
    d.label = labels_->name(d.class_id);
    d.score = raw.scores[k];
    d.box = {clamp01(b.xmin), clamp01(b.ymin), clamp01(b.xmax), clamp01(b.ymax)};
    d.box_px = {d.box.xmin * full_w, d.box.ymin * full_h, d.box.xmax * full_w, d.box.ymax * full_h};
    result.detections.push_back(std::move(d));
  }
  const auto t4 = Clock::now();

  result.timing.preprocess_ms += ms_between(t1, t2);
  result.timing.inference_ms = ms_between(t2, t3);
  result.timing.postprocess_ms = ms_between(t3, t4);
}

RawOutputs Detector::raw_outputs() const {
  RawOutputs r;
  r.boxes = output_floats(engine_, kSsdBoxes);
  r.classes = output_floats(engine_, kSsdClasses);
  r.scores = output_floats(engine_, kSsdScores);
  const std::vector<float> count = output_floats(engine_, kSsdCount);
  r.count = count.empty() ? 0.0f : count[0];
  return r;
}

}  // namespace lookout::detect
