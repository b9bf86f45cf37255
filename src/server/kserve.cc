#include "server/kserve.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include "server/request.h"

#ifndef LOOKOUT_VERSION
#define LOOKOUT_VERSION "unknown"
#endif

namespace lookout::server {

namespace {

constexpr const char* kVersion = "1";
constexpr const char* kPlatform = "tflite";
constexpr const char* kJsonLengthHeader = "Inference-Header-Content-Length";
constexpr const char* kBinaryDataSize = "binary_data_size";
// A BYTES element in binary: its length as 4 bytes, little-endian, then the bytes.
constexpr size_t kBytesLengthSize = 4;
static_assert(std::endian::native == std::endian::little, "binary tensor data is little-endian, as this host");

// The post-process outputs, in the graph's order.
constexpr size_t kOutputBoxes = 0;
constexpr size_t kOutputClasses = 1;
constexpr size_t kOutputScores = 2;
constexpr size_t kOutputCount = 3;
constexpr size_t kNumOutputs = 4;
constexpr std::array<const char*, kNumOutputs> kOutputFallbackNames = {"detection_boxes", "detection_classes",
                                                                       "detection_scores", "num_detections"};

// The routes under /v2/models/NAME[/versions/V]: the path patterns the
// server registers, and the same read without a regex for /metrics' labels.
constexpr const char* kModelPattern = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
enum class ModelRoute { none, metadata, ready, infer };

ModelRoute model_route(std::string_view path) {
  constexpr std::string_view kPrefix = "/v2/models/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return ModelRoute::none;
  std::vector<std::string_view> parts;  // NAME, then "versions" V, then "ready" or "infer"
  for (std::string_view rest = path.substr(kPrefix.size());;) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (parts.back().empty()) return ModelRoute::none;
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  size_t at = 1;
  if (parts.size() >= 3 && parts[1] == "versions") at = 3;
  if (parts.size() == at) return ModelRoute::metadata;
  if (parts.size() != at + 1) return ModelRoute::none;
  if (parts[at] == "ready") return ModelRoute::ready;
  if (parts[at] == "infer") return ModelRoute::infer;
  return ModelRoute::none;
}

const char* datatype_of(engine::DType t) { return t == engine::DType::uint8 ? "UINT8" : "FP32"; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : ",") + std::to_string(d);
  return "[" + s + "]";
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s.empty() ? "none" : s;
}

// The model and version named in the URL, or HttpError 404.
const KServeModel& model_of(const KServeRoutes& routes, const httplib::Request& req) {
  const std::string name = req.matches[1];
  const KServeModel* model = routes.find(name);
  if (model == nullptr) throw HttpError(404, "unknown model '" + name + "': served are " + joined(routes.names()));
  if (req.matches[2].matched) {
    const std::string version = req.matches[2];
    const std::vector<std::string>& versions = model->metadata.versions;
    if (std::find(versions.begin(), versions.end(), version) == versions.end())
      throw HttpError(404, "model '" + name + "' has no version '" + version + "': it has " + joined(versions));
  }
  return *model;
}

void answer(httplib::Response& res, const wire::Json& body) {
  res.set_content(wire::dump(body), "application/json");
}

// A boolean parameter, or `fallback` when absent; HttpError naming it when not a boolean.
bool bool_parameter(const wire::Json& parameters, const char* key, bool fallback) {
  const auto it = parameters.find(key);
  if (it == parameters.end()) return fallback;
  if (!it->is_boolean()) throw HttpError(400, std::string("parameter \"") + key + "\" must be true or false");
  return it->get<bool>();
}

void infer(const KServeRoutes& routes, const httplib::Request& req, httplib::Response& res) {
  const KServeModel& model = model_of(routes, req);
  routes.admit(req);
  KServeInfer parsed = parse_infer(req.body, req.get_header_value(kJsonLengthHeader), model);
  routes.count_images(1);
  if (model.pool == nullptr || !model.pool->ready() || !routes.serving())
    throw HttpError(503, "model '" + model.metadata.name + "' is not ready");
  detect::RawOutputs raw;
  std::vector<DetectJob> jobs;
  jobs.push_back({std::span<const uint8_t>(parsed.bytes), parsed.filter, parsed.input, &raw});
  auto futures = model.pool->submit(std::move(jobs));
  if (!futures)
    throw HttpError(503, "queue full: the image does not fit in --max-queue " +
                             std::to_string(model.pool->max_queue()) + "; retry later");
  const wire::ApiImage image = (*futures)[0].get();
  if (image.status != 200) throw HttpError(image.status, image.error.value_or("inference failed"));
  const KServeBody body = encode_response(infer_response(parsed, model, raw, image), parsed);
  if (!body.binary) {
    res.set_content(body.text, "application/json");
  } else {
    res.set_header(kJsonLengthHeader, std::to_string(body.json_length));
    res.set_content(body.text, "application/octet-stream");
  }
}

// The body's JSON and the bytes after it.
struct BodyParts {
  std::string_view json, binary;
};

BodyParts split_body(const std::string& body, const std::string& json_length) {
  const std::string_view all(body);
  if (json_length.empty()) return {all, {}};
  size_t n = 0;
  const auto [end, ec] = std::from_chars(json_length.data(), json_length.data() + json_length.size(), n);
  if (ec != std::errc() || end != json_length.data() + json_length.size() || n > all.size())
    throw HttpError(400, std::string(kJsonLengthHeader) + " '" + json_length +
                             "' must be a whole number of bytes within the body (" + std::to_string(all.size()) + ")");
  return {all.substr(0, n), all.substr(n)};
}

// The input's bytes from after the JSON: raw RGB for UINT8, one
// length-prefixed element for BYTES.
std::vector<uint8_t> binary_input(const wire::KServeTensor& input, std::string_view binary, int64_t size) {
  if (static_cast<uint64_t>(size) != binary.size())
    throw HttpError(400, "input '" + input.name + "' has binary_data_size " + std::to_string(size) + "; the body has " +
                             std::to_string(binary.size()) + " bytes after the JSON");
  if (input.datatype == "UINT8") {
    const int64_t elements = wire::kserve_elements(input.shape);
    if (size != elements)
      throw HttpError(400, "input '" + input.name + "' has binary_data_size " + std::to_string(size) + "; shape " +
                               shape_text(input.shape) + " of UINT8 needs " + std::to_string(elements));
    return {binary.begin(), binary.end()};
  }
  uint32_t length = 0;
  if (binary.size() >= kBytesLengthSize) std::memcpy(&length, binary.data(), kBytesLengthSize);
  if (binary.size() < kBytesLengthSize || binary.size() - kBytesLengthSize != length)
    throw HttpError(400, "input '" + input.name + "': BYTES in binary are one 4-byte little-endian length and that "
                         "many bytes; " + std::to_string(binary.size()) + " bytes do not make one element");
  return {binary.begin() + kBytesLengthSize, binary.end()};
}

// The tensor's data as the binary extension carries it.
std::string binary_data(const wire::KServeTensor& t) {
  std::string out;
  if (t.datatype == "BYTES") {
    for (const std::string& s : t.strings) {
      const auto length = static_cast<uint32_t>(s.size());
      out.append(reinterpret_cast<const char*>(&length), kBytesLengthSize);
      out += s;
    }
  } else {  // FP32, the only other datatype we answer
    for (double v : t.numbers) {
      const auto f = static_cast<float>(v);
      out.append(reinterpret_cast<const char*>(&f), sizeof f);
    }
  }
  return out;
}

}  // namespace

wire::KServeModelMetadata kserve_metadata(const std::string& name, const engine::Model& model) {
  const engine::Graph& g = model.graph();
  wire::KServeModelMetadata m;
  m.name = name;
  m.versions = {kVersion};
  m.platform = kPlatform;
  const engine::Tensor& in = g.tensors.at(static_cast<size_t>(g.inputs.at(0)));
  // The detector takes RGB bytes whatever the model's input type (it
  // normalizes for float models), so the protocol's input is UINT8.
  m.inputs.push_back({in.name.empty() ? "image" : in.name, "UINT8", {in.shape.begin(), in.shape.end()}});
  std::set<std::string> seen;
  bool distinct = g.outputs.size() == kNumOutputs;
  for (int32_t index : g.outputs) {
    const engine::Tensor& t = g.tensors.at(static_cast<size_t>(index));
    distinct = distinct && !t.name.empty() && t.name != kDetectionsOutput && seen.insert(t.name).second;
    m.outputs.push_back({t.name, datatype_of(t.type), {t.shape.begin(), t.shape.end()}});
  }
  if (!distinct)
    for (size_t i = 0; i < m.outputs.size() && i < kNumOutputs; ++i) m.outputs[i].name = kOutputFallbackNames[i];
  return m;
}

KServeInfer parse_infer(const std::string& body, const std::string& json_length, const KServeModel& model) {
  KServeInfer out;
  const BodyParts parts = split_body(body, json_length);
  std::optional<int64_t> binary_size;
  try {
    out.request = wire::Json::parse(parts.json.begin(), parts.json.end()).get<wire::KServeInferRequest>();
    if (!out.request.inputs.empty()) binary_size = wire::kserve_binary_size(out.request.inputs[0]);
  } catch (const wire::Json::parse_error& e) {
    throw HttpError(400, std::string("malformed JSON: ") + e.what());
  } catch (const wire::FormatError& e) {
    throw HttpError(400, e.what());
  }
  const wire::KServeTensorMetadata& expected = model.metadata.inputs.at(0);
  const wire::KServeInferRequest& r = out.request;
  if (r.inputs.size() != 1)
    throw HttpError(400, "the model takes one input, '" + expected.name + "'; the request has " +
                             std::to_string(r.inputs.size()));
  const wire::KServeTensor& input = r.inputs[0];
  if (!binary_size && !parts.binary.empty())
    throw HttpError(400, std::to_string(parts.binary.size()) +
                             " bytes follow the JSON, but no input has the parameter \"binary_data_size\"");
  if (input.name != expected.name)
    throw HttpError(400, "unknown input '" + input.name + "': the model's input is '" + expected.name + "'");
  const std::string rgb_form = "UINT8 " + shape_text(expected.shape);
  if (input.datatype == "UINT8") {
    if (input.shape != expected.shape)
      throw HttpError(400, "input '" + input.name + "' has shape " + shape_text(input.shape) + "; UINT8 takes " +
                               shape_text(expected.shape) + " (the RGB image, row-major)");
    out.input = DetectJob::Input::rgb;
    if (binary_size) {
      out.bytes = binary_input(input, parts.binary, *binary_size);
    } else {
      out.bytes.reserve(input.numbers.size());
      for (double v : input.numbers) out.bytes.push_back(static_cast<uint8_t>(v));  // 0..255: checked by the wire
    }
  } else if (input.datatype == "BYTES") {
    if (input.shape != std::vector<int64_t>{1})
      throw HttpError(400, "input '" + input.name + "' has shape " + shape_text(input.shape) +
                               "; BYTES takes [1] (one base64 JPEG or PNG)");
    out.input = DetectJob::Input::encoded;
    out.bytes = binary_size ? binary_input(input, parts.binary, *binary_size)
                            : base64_decode(input.strings[0], "inputs[0].data[0]");
    if (out.bytes.empty()) throw HttpError(400, "input '" + input.name + "' holds no image bytes");
  } else {
    throw HttpError(400, "input '" + input.name + "' has datatype " + input.datatype + "; send " + rgb_form +
                             " (the RGB image) or BYTES [1] (a base64 JPEG or PNG)");
  }

  // Parameters of ours; others are ignored, as the protocol lets servers do.
  if (const auto t = r.parameters.find("threshold"); t != r.parameters.end()) {
    if (!t->is_number() || !(t->get<double>() >= 0.0 && t->get<double>() <= 1.0))
      throw HttpError(400, "parameter \"threshold\" must be a number between 0 and 1, not " + t->dump());
    out.filter.threshold = t->get<float>();
  }
  bool detections = bool_parameter(r.parameters, kDetectionsOutput, false);
  const bool all_binary = bool_parameter(r.parameters, "binary_data_output", false);

  std::vector<std::string> known;
  for (const wire::KServeTensorMetadata& o : model.metadata.outputs) known.push_back(o.name);
  const auto answered = [&](const std::string& name) {
    return std::any_of(out.outputs.begin(), out.outputs.end(), [&](const KServeOutput& o) { return o.name == name; });
  };
  if (r.outputs) {
    for (const wire::KServeRequestedOutput& o : *r.outputs) {
      if (o.name == kDetectionsOutput) {
        detections = false;  // answered where it was asked
      } else if (std::find(known.begin(), known.end(), o.name) == known.end()) {
        throw HttpError(400, "unknown output '" + o.name + "': the model's outputs are " + joined(known) +
                                 ", and '" + kDetectionsOutput + "'");
      }
      if (!answered(o.name)) out.outputs.push_back({o.name, bool_parameter(o.parameters, "binary_data", all_binary)});
    }
  } else {
    for (const std::string& name : known) out.outputs.push_back({name, all_binary});
  }
  if (detections) out.outputs.push_back({kDetectionsOutput, all_binary});
  return out;
}

wire::KServeInferResponse infer_response(const KServeInfer& infer, const KServeModel& model,
                                         const detect::RawOutputs& raw, const wire::ApiImage& image) {
  wire::KServeInferResponse r;
  r.model_name = model.metadata.name;
  r.model_version = kVersion;
  r.id = infer.request.id;
  const auto rows = static_cast<int64_t>(raw.scores.size());
  auto fp32 = [](const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values) {
    wire::KServeTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.datatype = "FP32";
    t.numbers.assign(values.begin(), values.end());
    return t;
  };
  const std::vector<wire::KServeTensorMetadata>& outputs = model.metadata.outputs;
  for (const KServeOutput& output : infer.outputs) {
    const std::string& name = output.name;
    if (name == kDetectionsOutput) {
      wire::KServeTensor t;
      t.name = name;
      t.shape = {static_cast<int64_t>(image.detections.size())};
      t.datatype = "BYTES";
      for (const wire::Detection& d : image.detections) t.strings.push_back(wire::dump(wire::Json(d)));
      r.outputs.push_back(std::move(t));
    } else if (name == outputs.at(kOutputBoxes).name) {
      r.outputs.push_back(fp32(name, {1, rows, 4}, raw.boxes));
    } else if (name == outputs.at(kOutputClasses).name) {
      r.outputs.push_back(fp32(name, {1, rows}, raw.classes));
    } else if (name == outputs.at(kOutputScores).name) {
      r.outputs.push_back(fp32(name, {1, rows}, raw.scores));
    } else if (name == outputs.at(kOutputCount).name) {
      r.outputs.push_back(fp32(name, {1}, {raw.count}));
    }
  }
  return r;
}

KServeBody encode_response(wire::KServeInferResponse response, const KServeInfer& infer) {
  std::string binary;
  for (size_t i = 0; i < response.outputs.size() && i < infer.outputs.size(); ++i) {
    if (!infer.outputs[i].binary) continue;
    wire::KServeTensor& t = response.outputs[i];
    const std::string bytes = binary_data(t);
    t.parameters[kBinaryDataSize] = bytes.size();
    t.numbers.clear();
    t.strings.clear();
    binary += bytes;
  }
  KServeBody body;
  body.text = wire::dump(response);
  body.json_length = body.text.size();
  body.binary = std::any_of(infer.outputs.begin(), infer.outputs.end(), [](const KServeOutput& o) { return o.binary; });
  body.text += binary;
  return body;
}

const char* kserve_route_label(const std::string& path) {
  if (path == "/v2") return "/v2";
  switch (model_route(path)) {
    case ModelRoute::metadata: return "/v2/models/{name}";
    case ModelRoute::ready: return "/v2/models/{name}/ready";
    case ModelRoute::infer: return "/v2/models/{name}/infer";
    case ModelRoute::none: break;
  }
  return nullptr;
}

void install_kserve(httplib::Server& svr, KServeRoutes routes) {
  using httplib::Request;
  using httplib::Response;
  const auto r = std::make_shared<const KServeRoutes>(std::move(routes));
  const std::string model = kModelPattern;

  svr.Get("/v2", [](const Request&, Response& res) {
    answer(res, wire::KServeServerMetadata{"lookout", LOOKOUT_VERSION, {"binary_tensor_data"}});
  });
  svr.Get(model, [r](const Request& req, Response& res) { answer(res, model_of(*r, req).metadata); });
  svr.Get(model + "/ready", [r](const Request& req, Response& res) {
    const KServeModel& m = model_of(*r, req);
    const bool ready = m.pool != nullptr && m.pool->ready() && r->serving();
    res.status = ready ? 200 : 503;
    answer(res, wire::KServeModelReady{m.metadata.name, ready});
  });
  svr.Post(model + "/infer", [r](const Request& req, Response& res) { infer(*r, req, res); });

  // The wrong method on a known route: 405 with Allow.
  svr.Get(model + "/infer", [](const Request&, Response& res) {
    res.set_header("Allow", "POST");
    throw HttpError(405, "method not allowed: use POST");
  });
  for (const std::string& path : {std::string("/v2"), model, model + "/ready"})
    svr.Post(path, [](const Request& req, Response& res, const httplib::ContentReader& reader) {
      res.set_header("Allow", "GET");
      refuse_after_body(req, reader, 405, "method not allowed: use GET");
    });
}

}  // namespace lookout::server
