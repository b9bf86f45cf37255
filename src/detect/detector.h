// Lookout's detector: image bytes -> decode (scaled, upright) -> resize to
// the model input -> engine -> the objects found, with labels, scores and
// boxes in normalized and pixel coordinates, and per-stage times.
//
// Lifecycle: load a Model and Labels once (immutable, shareable), then one
// Detector per thread (it owns an engine::Engine, which is not thread-safe).
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "image/image.h"

namespace lookout::detect {

inline constexpr const char* kDefaultModel = "models/mobilenet_ssd_v2_coco_quant_postprocess.tflite";
inline constexpr const char* kDefaultLabels = "models/coco_labels.txt";

// coco_labels.txt: lines "id  name", ids are the model's 0-based class
// indices, with gaps (COCO's unused category ids). The COCO category_id of
// class index i is i + 1.
class Labels {
 public:
  static std::shared_ptr<const Labels> from_file(const std::filesystem::path& path);  // throws std::runtime_error
  static std::shared_ptr<const Labels> parse(const std::string& text, const std::string& origin);

  // The name of a class index; "class N" for an index the file does not list.
  std::string name(int class_id) const;
  // The class index of a name (exact, case-insensitive), or -1.
  int find(const std::string& name) const;
  const std::vector<std::pair<int, std::string>>& entries() const { return entries_; }
  static int coco_category_id(int class_id) { return class_id + 1; }

 private:
  std::vector<std::pair<int, std::string>> entries_;  // sorted by id
};

struct Box {
  float xmin = 0, ymin = 0, xmax = 0, ymax = 0;
};

struct Detection {
  int class_id = 0;   // the model's 0-based class index
  std::string label;
  float score = 0;
  Box box;            // normalized [0,1] in the upright image
  Box box_px;         // pixels of the original (upright, full-size) image
};

// Milliseconds per stage of one detect() call.
struct Timings {
  double decode_ms = 0;       // bytes -> upright RGB (scaled decode)
  double preprocess_ms = 0;   // resize to the model input, copy into the engine
  double inference_ms = 0;    // engine invoke
  double postprocess_ms = 0;  // outputs -> filtered, labelled detections
  double total_ms() const { return decode_ms + preprocess_ms + inference_ms + postprocess_ms; }
};

// The detection post-process outputs as the model wrote them, before any
// filter: R rows (the model's max_detections), the first `count` filled.
struct RawOutputs {
  std::vector<float> boxes;    // [1,R,4]: ymin, xmin, ymax, xmax, normalized
  std::vector<float> classes;  // [1,R]: 0-based class index
  std::vector<float> scores;   // [1,R]
  float count = 0;             // [1]
};

struct Result {
  int width = 0, height = 0;  // the original image, upright (after EXIF orientation)
  int orientation = 1;        // the EXIF orientation that was applied (1 = none)
  std::vector<Detection> detections;  // by score, best first
  Timings timing;
  RawOutputs raw;
};

// Which detections to keep.
struct Filter {
  float threshold = 0.5f;        // keep score >= threshold
  int max_detections = 100;      // after thresholding, best first
  std::vector<int> classes;      // class indices to keep; empty = all
};

struct DetectorOptions {
  engine::Options engine;        // backend, threads
  Filter filter;                 // default filter for detect(bytes)
  uint64_t max_pixels = 50'000'000;  // declared image size above this is refused before decoding
  // Decode JPEGs at the smallest DCT scale still covering the model input
  // (fast); false decodes at full size before the resize (tests compare both).
  bool scaled_decode = true;
};

class Detector {
 public:
  Detector(std::shared_ptr<const engine::Model> model, std::shared_ptr<const Labels> labels,
           DetectorOptions options);

  // Throws image::DecodeError (bad, truncated or too large image: the
  // message says why) — the caller reports that image and goes on.
  Result detect(std::span<const uint8_t> bytes);
  Result detect(std::span<const uint8_t> bytes, const Filter& filter);
  // The model input given as it is: input_height() x input_width() x 3
  // bytes, row-major RGB (what decode and resize would make of a photo);
  // no decode, no resize. Boxes in pixels are of that input. Throws
  // std::invalid_argument for another size.
  Result detect_rgb(std::span<const uint8_t> rgb, const Filter& filter);

  const Labels& labels() const { return *labels_; }
  const DetectorOptions& options() const { return options_; }
  int input_width() const { return input_width_; }
  int input_height() const { return input_height_; }
  // The level of our own kernels the engine runs (xnnpack backend).
  engine::Isa isa() const { return engine_.isa(); }

 private:
  std::shared_ptr<const Labels> labels_;
  DetectorOptions options_;
  engine::Engine engine_;
  int input_width_ = 0, input_height_ = 0;

  // Fills the engine's input from `rgb`, runs it, filters; sets the
  // preprocess (adds), inference and postprocess times.
  void infer(std::span<const uint8_t> rgb, const Filter& filter, Result& result);
  RawOutputs raw_outputs() const;
};

// "person,car" -> class indices; throws std::invalid_argument naming an
// unknown label and listing where to find valid ones.
std::vector<int> parse_class_list(const std::string& csv, const Labels& labels);

}  // namespace lookout::detect
