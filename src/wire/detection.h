// The detection result on the wire, in each form it takes:
//   - POST /api/detect's answer (ApiResponse: one ApiImage per image sent),
//     which `lookout run`'s HTTP targets read back;
//   - POST /v1/vision/detection's answer (DeepStackResponse);
//   - `lookout detect --format json|jsonl` (DetectedFile), csv (csv_header,
//     csv_rows) and coco (coco_results);
//   - the error bodies of both routes.
// Every writer and reader goes through these types and nlohmann's to_json /
// from_json hooks, so a field added here appears in every form that carries
// it, rounded by the one rule of wire/number.h.
//
// Readers are strict where a field means something (a missing "status" is an
// error naming it) and lenient where older or foreign writers may omit one
// (optional fields read as absent).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "detect/detector.h"

namespace lookout::wire {

using Json = nlohmann::ordered_json;

// A wire document that does not have the shape its type needs; the message
// names the field and what was wrong with it.
class FormatError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct Box {
  float xmin = 0, ymin = 0, xmax = 0, ymax = 0;
  bool operator==(const Box&) const = default;
};

struct Detection {
  int class_id = 0;            // the model's 0-based class index
  std::string label;
  float score = 0;
  Box box;                     // normalized [0,1], upright image
  std::optional<Box> box_px;   // pixels of the original upright image; lab records omit it
  bool operator==(const Detection&) const = default;
};

// Milliseconds per stage of one image. The detector's four stages and their
// total are always there; the others only where something measured them:
// queue (a server waited for a detector), upload (the body's transfer) and
// round_trip (a client waited for the answer).
struct StageTimes {
  std::optional<double> upload, queue;
  double decode = 0, preprocess = 0, inference = 0, postprocess = 0;
  std::optional<double> round_trip;
  double total = 0;
  bool operator==(const StageTimes&) const = default;
};

// ---- POST /api/detect --------------------------------------------------------

struct ApiImage {
  std::string id;
  int status = 200;               // 200, 400 for a bad image, 500 for a failure of ours
  int width = 0, height = 0;      // the original image, upright; 0 when it failed
  std::vector<Detection> detections;
  std::optional<std::string> error;  // why, when status != 200
  StageTimes timing;
  bool operator==(const ApiImage&) const = default;
};

struct ApiSummary {
  int images = 0, ok = 0, failed = 0;
  double upload_ms = 0, avg_upload_ms = 0, avg_inference_ms = 0;
  bool operator==(const ApiSummary&) const = default;
};

struct ApiResponse {
  std::vector<ApiImage> results;
  ApiSummary summary;
  // A request of one image that was refused carries that image's status.
  std::optional<std::string> error;
  std::optional<int> code;
  bool operator==(const ApiResponse&) const = default;
};

// ---- POST /v1/vision/detection (DeepStack / CodeProject.AI) -----------------

struct DeepStackPrediction {
  std::string label;
  float confidence = 0;
  int x_min = 0, y_min = 0, x_max = 0, y_max = 0;  // pixels, rounded to nearest
  bool operator==(const DeepStackPrediction&) const = default;
};

// DeepStack's answer with the fields CodeProject.AI adds (its clients, Blue
// Iris among them, read message, count and the timings).
struct DeepStackResponse {
  bool success = true;
  std::string message;        // "Found dog, bicycle" / "No objects found"
  std::vector<DeepStackPrediction> predictions;
  int64_t inference_ms = 0, process_ms = 0, round_trip_ms = 0;  // inferenceMs, processMs, analysisRoundTripMs
  int64_t duration_ms = 0;    // DeepStack's "duration": the detector's time
  std::string module_id = "lookout", module_name = "Lookout object detection", command = "detect";
  int code = 200;
  std::string request_id;     // unique per request
  std::string inference_device = "CPU";
  std::string execution_provider;  // the engine path that ran: "xnnpack", "reference", ...
  bool can_use_gpu = false;
  std::string timestamp_utc;  // RFC 1123, as CodeProject.AI writes it
  bool operator==(const DeepStackResponse&) const = default;
};

// POST|GET /v1/vision/custom/list: the models /v1/vision/custom/{name} takes.
struct DeepStackModelList {
  std::vector<std::string> models;
  bool operator==(const DeepStackModelList&) const = default;
};

// The error body: {"error","code"}, with "success": false first on the
// DeepStack route (its clients test that field).
struct ErrorBody {
  std::string error;
  int code = 0;
  bool deepstack = false;
  bool operator==(const ErrorBody&) const = default;
};

// ---- GET /api/model ------------------------------------------------------------

struct ModelInfo {
  std::string name;      // what ?model= and /v1/vision/custom/{name} take
  std::string file;      // the model file's name
  int width = 0, height = 0, channels = 3;  // the input tensor
  std::string backend;   // the engine path: "xnnpack", "reference", ...
  int workers = 0;       // detectors serving it
  bool operator==(const ModelInfo&) const = default;
};

// The default model's facts at the top (what single-model clients read),
// every served model in "models", and the labels (shared by the models).
struct ModelCatalog {
  std::vector<ModelInfo> models;  // the first is the default
  std::vector<std::pair<int, std::string>> labels;  // class index, name
  bool operator==(const ModelCatalog&) const = default;
};

// ---- lookout detect ------------------------------------------------------------

// One input of `lookout detect` (json and jsonl formats): the result, or why
// the file was not processed.
struct DetectedFile {
  std::string file;
  std::optional<std::string> error;  // set: failed; the rest is empty
  int width = 0, height = 0;
  int orientation = 1;               // the EXIF orientation applied (1 = none)
  std::vector<Detection> detections;
  StageTimes timing;
  bool operator==(const DetectedFile&) const = default;
};

// One entry of COCO's results format (what pycocotools' loadRes reads).
struct CocoResult {
  int64_t image_id = 0;
  int category_id = 0;
  float bbox[4] = {0, 0, 0, 0};  // x, y, width, height in pixels
  float score = 0;
  bool operator==(const CocoResult&) const = default;
};

// ---- from the detector -----------------------------------------------------------

Detection from_detector(const detect::Detection& d);
std::vector<Detection> from_detector(const std::vector<detect::Detection>& ds);
// The detector's stages; queue, upload and round_trip left absent.
StageTimes from_detector(const detect::Timings& t);

ApiImage api_image(const std::string& id, const detect::Result& result, double queue_ms);
ApiImage api_image_failed(const std::string& id, int status, const std::string& error, double queue_ms);
// processMs is the detector's own stages (decode to postprocess), without
// the queue; request_id, execution_provider and timestamp_utc are the caller's.
DeepStackResponse deepstack_response(const ApiImage& image, double round_trip_ms);
DetectedFile detected_file(const std::string& file, const detect::Result& result);
DetectedFile detected_file_failed(const std::string& file, const std::string& error);
// One entry per detection of a processed file; none for a failed one.
std::vector<CocoResult> coco_results(int64_t image_id, const DetectedFile& f);

// CSV (RFC 4180), one row per detection; a failed file is one row with
// only file and error.
std::string csv_header();
std::string csv_rows(const DetectedFile& f);

// ---- JSON hooks (nlohmann finds these by argument-dependent lookup) ----------

void to_json(Json& j, const Box& b);
void from_json(const Json& j, Box& b);
void to_json(Json& j, const Detection& d);
void from_json(const Json& j, Detection& d);
void to_json(Json& j, const StageTimes& t);
void from_json(const Json& j, StageTimes& t);
void to_json(Json& j, const ApiImage& r);
void from_json(const Json& j, ApiImage& r);
void to_json(Json& j, const ApiSummary& s);
void from_json(const Json& j, ApiSummary& s);
void to_json(Json& j, const ApiResponse& r);
void from_json(const Json& j, ApiResponse& r);
void to_json(Json& j, const DeepStackPrediction& p);
void from_json(const Json& j, DeepStackPrediction& p);
void to_json(Json& j, const DeepStackResponse& r);
void from_json(const Json& j, DeepStackResponse& r);
void to_json(Json& j, const DeepStackModelList& l);
void from_json(const Json& j, DeepStackModelList& l);
void to_json(Json& j, const ModelInfo& m);
void from_json(const Json& j, ModelInfo& m);
void to_json(Json& j, const ModelCatalog& c);
void from_json(const Json& j, ModelCatalog& c);
void to_json(Json& j, const ErrorBody& e);
void from_json(const Json& j, ErrorBody& e);
void to_json(Json& j, const DetectedFile& f);
void from_json(const Json& j, DetectedFile& f);
void to_json(Json& j, const CocoResult& c);
void from_json(const Json& j, CocoResult& c);

// Compact JSON text; bytes that are not UTF-8 (file names on Linux may hold
// any) become U+FFFD instead of throwing.
std::string dump(const Json& j);

}  // namespace lookout::wire
