#include "wire/detection.h"

#include <algorithm>
#include <cmath>

#include "wire/fields.h"
#include "wire/number.h"

namespace lookout::wire {

using fields::optional;
using fields::required;
using fields::value_or;

// ---- from the detector -----------------------------------------------------------

namespace {

Box box_of(const detect::Box& b) { return {b.xmin, b.ymin, b.xmax, b.ymax}; }

int pixel(float v) { return static_cast<int>(std::lround(v)); }

// RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Detection from_detector(const detect::Detection& d) {
  return {d.class_id, d.label, d.score, box_of(d.box), box_of(d.box_px)};
}

std::vector<Detection> from_detector(const std::vector<detect::Detection>& ds) {
  std::vector<Detection> out;
  out.reserve(ds.size());
  for (const detect::Detection& d : ds) out.push_back(from_detector(d));
  return out;
}

StageTimes from_detector(const detect::Timings& t) {
  StageTimes s;
  s.decode = t.decode_ms;
  s.preprocess = t.preprocess_ms;
  s.inference = t.inference_ms;
  s.postprocess = t.postprocess_ms;
  s.total = t.total_ms();
  return s;
}

ApiImage api_image(const std::string& id, const detect::Result& result, double queue_ms) {
  ApiImage r;
  r.id = id;
  r.status = 200;
  r.width = result.width;
  r.height = result.height;
  r.detections = from_detector(result.detections);
  r.timing = from_detector(result.timing);
  r.timing.queue = queue_ms;
  r.timing.total += queue_ms;
  return r;
}

ApiImage api_image_failed(const std::string& id, int status, const std::string& error, double queue_ms) {
  ApiImage r;
  r.id = id;
  r.status = status;
  r.error = error;
  r.timing.queue = queue_ms;
  r.timing.total = queue_ms;
  return r;
}

DeepStackResponse deepstack_response(const ApiImage& image, double round_trip_ms) {
  DeepStackResponse r;
  for (const Detection& d : image.detections) {
    const Box px = d.box_px.value_or(Box{});
    r.predictions.push_back({d.label, d.score, pixel(px.xmin), pixel(px.ymin), pixel(px.xmax), pixel(px.ymax)});
  }
  const StageTimes& t = image.timing;
  r.inference_ms = std::lround(t.inference);
  r.process_ms = std::lround(t.decode + t.preprocess + t.inference + t.postprocess);
  r.duration_ms = r.process_ms;
  r.round_trip_ms = std::lround(round_trip_ms);
  // CodeProject.AI's message: the first few distinct labels, best first.
  std::vector<std::string> labels;
  for (const DeepStackPrediction& p : r.predictions)
    if (std::find(labels.begin(), labels.end(), p.label) == labels.end()) labels.push_back(p.label);
  constexpr size_t kNamed = 3;
  if (labels.empty()) r.message = "No objects found";
  else {
    r.message = "Found ";
    for (size_t i = 0; i < labels.size() && i < kNamed; ++i) r.message += (i ? ", " : "") + labels[i];
    if (labels.size() > kNamed) r.message += "...";
  }
  return r;
}

DetectedFile detected_file(const std::string& file, const detect::Result& result) {
  DetectedFile f;
  f.file = file;
  f.width = result.width;
  f.height = result.height;
  f.orientation = result.orientation;
  f.detections = from_detector(result.detections);
  f.timing = from_detector(result.timing);
  return f;
}

DetectedFile detected_file_failed(const std::string& file, const std::string& error) {
  DetectedFile f;
  f.file = file;
  f.error = error;
  return f;
}

std::vector<CocoResult> coco_results(int64_t image_id, const DetectedFile& f) {
  std::vector<CocoResult> out;
  if (f.error) return out;
  for (const Detection& d : f.detections) {
    const Box b = d.box_px.value_or(Box{});
    out.push_back({image_id, detect::Labels::coco_category_id(d.class_id), {b.xmin, b.ymin, b.xmax - b.xmin, b.ymax - b.ymin}, d.score});
  }
  return out;
}

std::string csv_header() {
  return "file,width,height,class_id,label,score,xmin,ymin,xmax,ymax,xmin_norm,ymin_norm,xmax_norm,ymax_norm,error\n";
}

std::string csv_rows(const DetectedFile& f) {
  const std::string file = csv_field(f.file);
  if (f.error) return file + ",,,,,,,,,,,,,," + csv_field(*f.error) + "\n";
  std::string out;
  for (const Detection& d : f.detections) {
    const Box px = d.box_px.value_or(Box{});
    out += file + ',' + std::to_string(f.width) + ',' + std::to_string(f.height) + ',' + std::to_string(d.class_id) +
           ',' + csv_field(d.label) + ',' + shortest_text(d.score);
    for (float v : {px.xmin, px.ymin, px.xmax, px.ymax, d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax})
      out += ',' + shortest_text(v);
    out += ",\n";
  }
  return out;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// ---- JSON hooks -------------------------------------------------------------------

void to_json(Json& j, const Box& b) {
  j = Json{{"xmin", exact_float(b.xmin)}, {"ymin", exact_float(b.ymin)}, {"xmax", exact_float(b.xmax)},
           {"ymax", exact_float(b.ymax)}};
}

void from_json(const Json& j, Box& b) {
  fields::require_object(j, "a box");
  b = {required<float>(j, "xmin"), required<float>(j, "ymin"), required<float>(j, "xmax"), required<float>(j, "ymax")};
}

void to_json(Json& j, const Detection& d) {
  j = Json{{"class_id", d.class_id}, {"label", d.label}, {"score", exact_float(d.score)}, {"box", d.box}};
  if (d.box_px) j["box_px"] = *d.box_px;
}

void from_json(const Json& j, Detection& d) {
  fields::require_object(j, "a detection");
  d.class_id = required<int>(j, "class_id");
  d.label = value_or<std::string>(j, "label", "");
  d.score = required<float>(j, "score");
  d.box = required<Box>(j, "box");
  d.box_px = optional<Box>(j, "box_px");
}

void to_json(Json& j, const StageTimes& t) {
  j = Json::object();
  if (t.upload) j["upload"] = ms(*t.upload);
  if (t.queue) j["queue"] = ms(*t.queue);
  j["decode"] = ms(t.decode);
  j["preprocess"] = ms(t.preprocess);
  j["inference"] = ms(t.inference);
  j["postprocess"] = ms(t.postprocess);
  if (t.round_trip) j["round_trip"] = ms(*t.round_trip);
  j["total"] = ms(t.total);
}

void from_json(const Json& j, StageTimes& t) {
  fields::require_object(j, "timing_ms");
  t.upload = optional<double>(j, "upload");
  t.queue = optional<double>(j, "queue");
  t.decode = value_or(j, "decode", 0.0);
  t.preprocess = value_or(j, "preprocess", 0.0);
  t.inference = value_or(j, "inference", 0.0);
  t.postprocess = value_or(j, "postprocess", 0.0);
  t.round_trip = optional<double>(j, "round_trip");
  t.total = value_or(j, "total", 0.0);
}

void to_json(Json& j, const ApiImage& r) {
  j = Json{{"id", r.id}, {"status", r.status}, {"width", r.width}, {"height", r.height}, {"detections", r.detections}};
  if (r.error) j["error"] = *r.error;
  j["timing_ms"] = r.timing;
}

void from_json(const Json& j, ApiImage& r) {
  fields::require_object(j, "a result");
  r.id = value_or<std::string>(j, "id", "");
  r.status = required<int>(j, "status");
  r.width = value_or(j, "width", 0);
  r.height = value_or(j, "height", 0);
  r.detections = value_or(j, "detections", std::vector<Detection>{});
  r.error = optional<std::string>(j, "error");
  r.timing = value_or(j, "timing_ms", StageTimes{});
}

void to_json(Json& j, const ApiSummary& s) {
  j = Json{{"images", s.images},
           {"ok", s.ok},
           {"failed", s.failed},
           {"upload_ms", ms(s.upload_ms)},
           {"avg_upload_ms", ms(s.avg_upload_ms)},
           {"avg_inference_ms", ms(s.avg_inference_ms)}};
}

void from_json(const Json& j, ApiSummary& s) {
  fields::require_object(j, "summary");
  s.images = required<int>(j, "images");
  s.ok = required<int>(j, "ok");
  s.failed = required<int>(j, "failed");
  s.upload_ms = value_or(j, "upload_ms", 0.0);
  s.avg_upload_ms = value_or(j, "avg_upload_ms", 0.0);
  s.avg_inference_ms = value_or(j, "avg_inference_ms", 0.0);
}

void to_json(Json& j, const ApiResponse& r) {
  j = Json{{"results", r.results}, {"summary", r.summary}};
  if (r.error) j["error"] = *r.error;
  if (r.code) j["code"] = *r.code;
}

void from_json(const Json& j, ApiResponse& r) {
  fields::require_object(j, "the answer");
  r.results = required<std::vector<ApiImage>>(j, "results");
  r.summary = value_or(j, "summary", ApiSummary{});
  r.error = optional<std::string>(j, "error");
  r.code = optional<int>(j, "code");
}

void to_json(Json& j, const DeepStackPrediction& p) {
  j = Json{{"label", p.label},   {"confidence", exact_float(p.confidence)},
           {"x_min", p.x_min},   {"y_min", p.y_min},
           {"x_max", p.x_max},   {"y_max", p.y_max}};
}

void from_json(const Json& j, DeepStackPrediction& p) {
  fields::require_object(j, "a prediction");
  p = {required<std::string>(j, "label"), required<float>(j, "confidence"), required<int>(j, "x_min"),
       required<int>(j, "y_min"),         required<int>(j, "x_max"),        required<int>(j, "y_max")};
}

void to_json(Json& j, const DeepStackResponse& r) {
  j = Json{{"success", r.success},
           {"message", r.message},
           {"predictions", r.predictions},
           {"count", r.predictions.size()},
           {"inferenceMs", r.inference_ms},
           {"processMs", r.process_ms},
           {"analysisRoundTripMs", r.round_trip_ms},
           {"duration", r.duration_ms},
           {"moduleId", r.module_id},
           {"moduleName", r.module_name},
           {"command", r.command},
           {"code", r.code},
           {"requestId", r.request_id},
           {"inferenceDevice", r.inference_device},
           {"executionProvider", r.execution_provider},
           {"canUseGPU", r.can_use_gpu},
           {"timestampUTC", r.timestamp_utc}};
}

void from_json(const Json& j, DeepStackResponse& r) {
  fields::require_object(j, "the answer");
  r = DeepStackResponse{};
  r.success = required<bool>(j, "success");
  r.message = value_or<std::string>(j, "message", "");
  r.predictions = value_or(j, "predictions", std::vector<DeepStackPrediction>{});
  r.inference_ms = value_or<int64_t>(j, "inferenceMs", 0);
  r.process_ms = value_or<int64_t>(j, "processMs", 0);
  r.round_trip_ms = value_or<int64_t>(j, "analysisRoundTripMs", 0);
  r.duration_ms = value_or<int64_t>(j, "duration", 0);
  r.module_id = value_or<std::string>(j, "moduleId", "");
  r.module_name = value_or<std::string>(j, "moduleName", "");
  r.command = value_or<std::string>(j, "command", "");
  r.code = value_or(j, "code", 200);
  r.request_id = value_or<std::string>(j, "requestId", "");
  r.inference_device = value_or<std::string>(j, "inferenceDevice", "");
  r.execution_provider = value_or<std::string>(j, "executionProvider", "");
  r.can_use_gpu = value_or(j, "canUseGPU", false);
  r.timestamp_utc = value_or<std::string>(j, "timestampUTC", "");
}

void to_json(Json& j, const DeepStackModelList& l) { j = Json{{"success", true}, {"models", l.models}}; }

void from_json(const Json& j, DeepStackModelList& l) {
  fields::require_object(j, "the model list");
  l.models = required<std::vector<std::string>>(j, "models");
}

void to_json(Json& j, const ModelInfo& m) {
  j = Json{{"name", m.name},
           {"model", m.file},
           {"input", {{"width", m.width}, {"height", m.height}, {"channels", m.channels}}},
           {"input_shape", {1, m.height, m.width, m.channels}},
           {"backend", m.backend},
           {"workers", m.workers}};
}

void from_json(const Json& j, ModelInfo& m) {
  fields::require_object(j, "a model");
  m.name = value_or<std::string>(j, "name", "");
  m.file = required<std::string>(j, "model");
  const Json input = value_or(j, "input", Json::object());
  m.width = value_or(input, "width", 0);
  m.height = value_or(input, "height", 0);
  m.channels = value_or(input, "channels", 3);
  m.backend = value_or<std::string>(j, "backend", "");
  m.workers = value_or(j, "workers", 0);
}

void to_json(Json& j, const ModelCatalog& c) {
  j = c.models.empty() ? Json::object() : Json(c.models.front());
  j["models"] = c.models;
  Json labels = Json::array();
  for (const auto& [id, name] : c.labels) labels.push_back({{"id", id}, {"name", name}});
  j["labels"] = std::move(labels);
}

void from_json(const Json& j, ModelCatalog& c) {
  fields::require_object(j, "/api/model's answer");
  c = ModelCatalog{};
  // A server from before several models were served answers one model at the top.
  if (j.contains("models")) c.models = required<std::vector<ModelInfo>>(j, "models");
  else c.models.push_back(j.get<ModelInfo>());
  if (c.models.empty()) throw FormatError("\"models\" is empty: a server serves one model at least");
  const auto labels = j.find("labels");
  if (labels != j.end() && !labels->is_array()) throw FormatError("\"labels\" must be an array");
  if (labels != j.end())
    for (const Json& l : *labels) {
      fields::require_object(l, "a label");
      c.labels.emplace_back(required<int>(l, "id"), required<std::string>(l, "name"));
    }
}

void to_json(Json& j, const ErrorBody& e) {
  j = Json::object();
  if (e.deepstack) j["success"] = false;
  j["error"] = e.error;
  j["code"] = e.code;
}

void from_json(const Json& j, ErrorBody& e) {
  fields::require_object(j, "an error body");
  e.error = required<std::string>(j, "error");
  e.code = value_or(j, "code", 0);
  e.deepstack = j.contains("success");
}

void to_json(Json& j, const DetectedFile& f) {
  if (f.error) {
    j = Json{{"file", f.file}, {"error", *f.error}};
    return;
  }
  j = Json{{"file", f.file},         {"width", f.width},   {"height", f.height},
           {"orientation", f.orientation}, {"detections", f.detections}, {"timing_ms", f.timing}};
}

void from_json(const Json& j, DetectedFile& f) {
  fields::require_object(j, "a detect record");
  f = DetectedFile{};
  f.file = required<std::string>(j, "file");
  f.error = optional<std::string>(j, "error");
  if (f.error) return;
  f.width = required<int>(j, "width");
  f.height = required<int>(j, "height");
  f.orientation = value_or(j, "orientation", 1);
  f.detections = required<std::vector<Detection>>(j, "detections");
  f.timing = required<StageTimes>(j, "timing_ms");
}

void to_json(Json& j, const CocoResult& c) {
  j = Json{{"image_id", c.image_id},
           {"category_id", c.category_id},
           {"bbox", {exact_float(c.bbox[0]), exact_float(c.bbox[1]), exact_float(c.bbox[2]), exact_float(c.bbox[3])}},
           {"score", exact_float(c.score)}};
}

void from_json(const Json& j, CocoResult& c) {
  fields::require_object(j, "a COCO result");
  c.image_id = required<int64_t>(j, "image_id");
  c.category_id = required<int>(j, "category_id");
  const std::vector<float> bbox = required<std::vector<float>>(j, "bbox");
  if (bbox.size() != 4) throw FormatError("\"bbox\" must hold 4 numbers, not " + std::to_string(bbox.size()));
  for (int i = 0; i < 4; ++i) c.bbox[i] = bbox[static_cast<size_t>(i)];
  c.score = required<float>(j, "score");
}

}  // namespace lookout::wire
