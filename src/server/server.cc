// The routes, registered in one place; one exception handler mapping typed
// errors to statuses; one error-body shaper; one logger; stop() from a
// sigwait thread, then a drain bounded by --drain-seconds.
#include "server/server.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/metrics.h"
#include "server/pool.h"
#include "server/web_ui.h"

namespace lookout::server {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A refusal with its HTTP status; the exception handler shapes the body.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

// Per request, on the httplib thread that serves it: set by the pre-routing
// handler and the route, read by the logger.
struct RequestState {
  bool started = false;
  Clock::time_point start;
  int images = 0;
  double ms = 0.0;  // until the response was ready (set when it is counted)
};
thread_local RequestState t_state;

const char* kDeepStack = "/v1/vision/detection";

bool is_deepstack(const httplib::Request& req) { return req.path == kDeepStack; }

// The one error-body shaper: DeepStack's shape on its route, ours elsewhere.
void shape_error(const httplib::Request& req, httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  json body = is_deepstack(req) ? json{{"success", false}, {"error", message}, {"code", status}}
                                : json{{"error", message}, {"code", status}};
  res.set_content(body.dump(), "application/json");
}

std::string default_message(int status) {
  switch (status) {
    case 400: return "bad request";
    case 404: return "no such route";
    case 405: return "method not allowed";
    case 413: return "request body too large";
    case 415: return "unsupported content type";
    case 503: return "service unavailable";
    default: return "error " + std::to_string(status);
  }
}

std::array<uint8_t, SHA256_DIGEST_LENGTH> sha256(const std::string& s) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "image/jpeg; charset=x" -> "image/jpeg"
std::string media_type(const std::string& content_type) {
  std::string t = lower(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

// Strict base64 (standard alphabet, '=' padding, whitespace ignored).
std::vector<uint8_t> base64_decode(const std::string& in, const std::string& what) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(a[i])] = static_cast<int8_t>(i);
    return t;
  }();
  std::vector<uint8_t> out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  size_t symbols = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      ++symbols;
      continue;
    }
    if (pad > 0 || table[c] < 0)
      throw HttpError(400, what + ": invalid base64 character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(table[c]);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (symbols % 4 != 0 || pad > 2) throw HttpError(400, what + ": invalid base64 length or padding");
  if (out.empty()) throw HttpError(400, what + ": empty image data");
  return out;
}

float parse_threshold(const std::string& text, const std::string& name) {
  try {
    size_t used = 0;
    const float v = std::stof(text, &used);
    if (used == text.size() && v >= 0 && v <= 1) return v;
  } catch (const std::exception&) {
  }
  throw HttpError(400, name + " must be a number between 0 and 1, got '" + text + "'");
}

struct Upload {
  std::string id;
  std::string data;
  std::string field;  // multipart field name
};

struct Body {
  std::vector<Upload> images;
  std::map<std::string, std::string> fields;  // multipart fields without a filename
  double upload_ms = 0;
  size_t bytes = 0;
};

class Service {
 public:
  Service(const ServerOptions& o, Pool& pool, Metrics& metrics, std::string model_name,
          std::shared_ptr<const detect::Labels> labels, int input_w, int input_h)
      : o_(o), pool_(pool), metrics_(metrics), model_name_(std::move(model_name)), labels_(std::move(labels)),
        input_w_(input_w), input_h_(input_h), key_digest_(sha256(o.api_key)) {}

  void install(httplib::Server& svr);
  std::atomic<bool> draining{false};

 private:
  void check_key(const httplib::Request& req) const;
  Body read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) const;
  std::vector<ImageOutcome> run(const std::vector<Upload>& images, const detect::Filter& filter);
  void count(const httplib::Request& req, const httplib::Response& res);
  void log(const httplib::Request& req, const httplib::Response& res);
  void detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void deepstack(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);

  const ServerOptions& o_;
  Pool& pool_;
  Metrics& metrics_;
  std::string model_name_;
  std::shared_ptr<const detect::Labels> labels_;
  int input_w_, input_h_;
  std::array<uint8_t, SHA256_DIGEST_LENGTH> key_digest_;
  std::mutex log_mu_;
};

void Service::check_key(const httplib::Request& req) const {
  if (o_.api_key.empty()) return;
  std::string given;
  const std::string auth = req.get_header_value("Authorization");
  if (lower(auth.substr(0, 7)) == "bearer ") given = auth.substr(7);
  else if (req.has_header("X-API-Key")) given = req.get_header_value("X-API-Key");
  else throw HttpError(401, "missing API key: send Authorization: Bearer KEY or X-API-Key: KEY");
  const auto digest = sha256(given);
  if (CRYPTO_memcmp(digest.data(), key_digest_.data(), digest.size()) != 0) throw HttpError(401, "wrong API key");
}

// Reads the whole body (httplib enforces --max-body-mb), timing the receive.
Body Service::read_body(const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& reader) const {
  Body body;
  const auto t0 = Clock::now();
  bool ok;
  if (req.is_multipart_form_data()) {
    std::vector<httplib::MultipartFormData> parts;
    ok = reader(
        [&](const httplib::MultipartFormData& part) {
          parts.push_back(part);
          return true;
        },
        [&](const char* data, size_t n) {
          parts.back().content.append(data, n);
          return true;
        });
    for (httplib::MultipartFormData& p : parts) {
      body.bytes += p.content.size();
      if (p.filename.empty() && media_type(p.content_type).rfind("image/", 0) != 0)
        body.fields[p.name] = std::move(p.content);
      else
        body.images.push_back({p.filename.empty() ? p.name : p.filename, std::move(p.content), p.name});
    }
  } else {
    std::string data;
    ok = reader([&](const char* d, size_t n) {
      data.append(d, n);
      return true;
    });
    body.bytes = data.size();
    body.images.push_back({"", std::move(data), ""});
  }
  body.upload_ms = ms_between(t0, Clock::now());
  if (!ok) {
    if (res.status == 413)
      throw HttpError(413, "request body larger than --max-body-mb " + std::to_string(o_.max_body_mb) + " MiB");
    throw HttpError(400, req.is_multipart_form_data() ? "malformed multipart/form-data body"
                                                      : "request body could not be read");
  }
  return body;
}

std::vector<ImageOutcome> Service::run(const std::vector<Upload>& images, const detect::Filter& filter) {
  std::vector<ImageJob> jobs;
  for (const Upload& u : images)
    jobs.push_back({std::span(reinterpret_cast<const uint8_t*>(u.data.data()), u.data.size()), filter});
  auto futures = pool_.submit(std::move(jobs));
  if (!futures)
    throw HttpError(503, "queue full: " + std::to_string(images.size()) + " image(s) do not fit in --max-queue " +
                             std::to_string(pool_.max_queue()) + "; retry later");
  std::vector<ImageOutcome> out;
  for (auto& f : *futures) out.push_back(f.get());
  return out;
}

json box_json(const detect::Box& b) {
  return {{"xmin", b.xmin}, {"ymin", b.ymin}, {"xmax", b.xmax}, {"ymax", b.ymax}};
}

// A refusal before the body was read still reads it (and drops it), so the
// next request on a keep-alive connection starts where it should.
template <class Check>
void before_body(const httplib::Request& req, const httplib::ContentReader& reader, Check check) {
  try {
    check();
  } catch (const HttpError&) {
    if (req.is_multipart_form_data())
      reader([](const httplib::MultipartFormData&) { return true; }, [](const char*, size_t) { return true; });
    else
      reader([](const char*, size_t) { return true; });
    throw;
  }
}

void Service::detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  const std::string type = media_type(req.get_header_value("Content-Type"));
  const bool is_json = type == "application/json", is_multipart = req.is_multipart_form_data();
  const bool is_raw = type == "image/jpeg" || type == "image/jpg" || type == "image/png";
  before_body(req, reader, [&] {
    check_key(req);
    if (!is_json && !is_multipart && !is_raw)
      throw HttpError(415, "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                               "': send application/json, multipart/form-data, image/jpeg or image/png");
  });
  Body body = read_body(req, res, reader);
  detect::Filter filter;
  if (req.has_param("threshold")) filter.threshold = parse_threshold(req.get_param_value("threshold"), "threshold");

  std::vector<Upload> images;
  if (is_json) {
    json doc;
    try {
      doc = json::parse(body.images.at(0).data);
    } catch (const json::parse_error& e) {
      throw HttpError(400, std::string("malformed JSON: ") + e.what());
    }
    if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
      throw HttpError(400, "JSON body must be an object with an \"images\" array");
    if (doc.contains("threshold")) {
      if (!doc["threshold"].is_number() || doc["threshold"].get<double>() < 0 || doc["threshold"].get<double>() > 1)
        throw HttpError(400, "threshold must be a number between 0 and 1");
      filter.threshold = doc["threshold"].get<float>();
    }
    size_t i = 0;
    for (const json& item : doc["images"]) {
      const std::string where = "images[" + std::to_string(i) + "]";
      if (!item.is_object() || !item.contains("data") || !item["data"].is_string())
        throw HttpError(400, where + " must be an object with a base64 \"data\" string");
      std::string id = item.contains("id") && item["id"].is_string() ? item["id"].get<std::string>()
                                                                     : "image" + std::to_string(i);
      const std::vector<uint8_t> bytes = base64_decode(item["data"].get<std::string>(), where + ".data");
      images.push_back({std::move(id), std::string(bytes.begin(), bytes.end()), ""});
      ++i;
    }
  } else if (is_multipart) {
    images = std::move(body.images);
    if (body.fields.count("threshold")) filter.threshold = parse_threshold(body.fields["threshold"], "threshold");
  } else {
    images = std::move(body.images);
    images[0].id = req.has_param("id") ? req.get_param_value("id") : "image";
    if (images[0].data.empty()) throw HttpError(400, "empty request body: send the image bytes");
  }
  if (images.empty()) throw HttpError(400, "no images in the request");
  t_state.images = static_cast<int>(images.size());

  size_t total_bytes = 0;
  for (const Upload& u : images) total_bytes += u.data.size();
  const std::vector<ImageOutcome> outcomes = run(images, filter);

  json results = json::array();
  int ok = 0;
  double inference_sum = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageOutcome& o = outcomes[i];
    const detect::Result& r = o.result;
    json entry = {{"id", images[i].id}, {"status", o.status}};
    if (o.status == 200) {
      ++ok;
      inference_sum += r.timing.inference_ms;
      json dets = json::array();
      for (const detect::Detection& d : r.detections)
        dets.push_back({{"class_id", d.class_id}, {"label", d.label}, {"score", d.score},
                        {"box", box_json(d.box)}, {"box_px", box_json(d.box_px)}});
      entry["width"] = r.width;
      entry["height"] = r.height;
      entry["detections"] = std::move(dets);
    } else {
      entry["width"] = 0;
      entry["height"] = 0;
      entry["detections"] = json::array();
      entry["error"] = o.error;
    }
    entry["timing_ms"] = {{"queue", o.queue_ms},
                          {"decode", r.timing.decode_ms},
                          {"inference", r.timing.inference_ms},
                          {"preprocess", r.timing.preprocess_ms},
                          {"postprocess", r.timing.postprocess_ms},
                          {"total", o.queue_ms + r.timing.total_ms()}};
    results.push_back(std::move(entry));
  }
  const int n = static_cast<int>(images.size());
  json summary = {{"images", n},
                  {"ok", ok},
                  {"failed", n - ok},
                  {"upload_ms", body.upload_ms},
                  {"avg_upload_ms", body.upload_ms / n},
                  {"avg_inference_ms", ok ? inference_sum / ok : 0.0}};
  // Upload time apportioned by bytes across the batch.
  for (size_t i = 0; i < images.size(); ++i)
    results[i]["timing_ms"]["upload"] =
        total_bytes ? body.upload_ms * static_cast<double>(images[i].data.size()) / static_cast<double>(total_bytes)
                    : 0.0;
  json doc = {{"results", std::move(results)}, {"summary", std::move(summary)}};
  // One image sent, and it was refused: the request carries its status.
  res.status = 200;
  if (n == 1 && outcomes[0].status != 200) {
    res.status = outcomes[0].status;
    doc["error"] = outcomes[0].error;
    doc["code"] = outcomes[0].status;
  }
  res.set_content(doc.dump(), "application/json");
}

void Service::deepstack(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  const auto t0 = Clock::now();
  before_body(req, reader, [&] {
    check_key(req);
    if (!req.is_multipart_form_data())
      throw HttpError(415, "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                               "': send multipart/form-data with an 'image' field");
  });
  Body body = read_body(req, res, reader);
  const Upload* image = nullptr;
  for (const Upload& u : body.images)
    if (u.field == "image") image = &u;
  if (image == nullptr && body.fields.count("image")) throw HttpError(400, "multipart field 'image' is empty");
  if (image == nullptr) throw HttpError(400, "missing multipart field 'image'");
  detect::Filter filter;
  filter.threshold = 0.4f;
  if (body.fields.count("min_confidence"))
    filter.threshold = parse_threshold(body.fields["min_confidence"], "min_confidence");
  else if (req.has_param("min_confidence"))
    filter.threshold = parse_threshold(req.get_param_value("min_confidence"), "min_confidence");
  t_state.images = 1;
  const std::vector<ImageOutcome> outcomes = run({*image}, filter);
  const ImageOutcome& o = outcomes[0];
  if (o.status != 200) throw HttpError(o.status, o.error);
  json predictions = json::array();
  for (const detect::Detection& d : o.result.detections)
    predictions.push_back({{"label", d.label},
                           {"confidence", d.score},
                           {"x_min", static_cast<int>(std::lround(d.box_px.xmin))},
                           {"y_min", static_cast<int>(std::lround(d.box_px.ymin))},
                           {"x_max", static_cast<int>(std::lround(d.box_px.xmax))},
                           {"y_max", static_cast<int>(std::lround(d.box_px.ymax))}});
  const size_t count = predictions.size();
  json doc = {{"success", true},
              {"predictions", std::move(predictions)},
              {"count", count},
              {"inferenceMs", static_cast<int64_t>(std::lround(o.result.timing.inference_ms))},
              {"processMs", static_cast<int64_t>(std::lround(o.result.timing.total_ms()))},
              {"analysisRoundTripMs", static_cast<int64_t>(std::lround(ms_between(t0, Clock::now())))}};
  res.set_content(doc.dump(), "application/json");
}

const char* route_label(const std::string& path) {
  static const char* routes[] = {"/api/detect", "/v1/vision/detection", "/api/model", "/healthz",
                                 "/v2/health/live", "/v2/health/ready", "/metrics"};
  for (const char* r : routes)
    if (path == r) return r;
  if (is_web_ui_path(path)) return "/";
  return "other";
}

// Runs once the response is ready, before httplib writes it: a client that
// scrapes /metrics right after reading a response sees that response counted.
void Service::count(const httplib::Request& req, const httplib::Response& res) {
  RequestState& state = t_state;
  if (state.started) {
    state.ms = ms_between(state.start, Clock::now());
    metrics_.inflight.fetch_sub(1);
    metrics_.request_duration.observe(state.ms / 1000.0);
  }
  metrics_.count_request(route_label(req.path), res.status);
}

void Service::log(const httplib::Request& req, const httplib::Response& res) {
  const RequestState state = t_state;
  t_state = RequestState{};
  const double ms = state.ms;
  const auto now = std::chrono::system_clock::now();
  const std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  if (o_.log_format == "json") {
    line = json{{"ts", ts}, {"method", req.method}, {"path", req.path}, {"status", res.status},
                {"images", state.images}, {"ms", std::round(ms * 10) / 10}, {"remote", req.remote_addr}}
               .dump();
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", ms);
    line = std::string(ts) + " " + req.method + " " + req.path + " " + std::to_string(res.status) +
           " images=" + std::to_string(state.images) + " ms=" + buf + " remote=" + req.remote_addr;
  }
  std::lock_guard lock(log_mu_);
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Service::install(httplib::Server& svr) {
  using httplib::Request;
  using httplib::Response;
  svr.set_pre_routing_handler([this](const Request&, Response&) {
    t_state = RequestState{true, Clock::now(), 0};
    metrics_.inflight.fetch_add(1);
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // The routes.
  svr.Post("/api/detect", [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
    detect(req, res, reader);
  });
  svr.Post(kDeepStack, [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
    deepstack(req, res, reader);
  });
  svr.Get("/api/model", [this](const Request&, Response& res) {
    json labels = json::array();
    for (const auto& [id, name] : labels_->entries()) labels.push_back({{"id", id}, {"name", name}});
    json doc = {{"model", model_name_},
                {"input", {{"width", input_w_}, {"height", input_h_}, {"channels", 3}}},
                {"input_shape", {1, input_h_, input_w_, 3}},
                {"backend", o_.backend},
                {"workers", pool_.workers()},
                {"labels", std::move(labels)}};
    res.set_content(doc.dump(), "application/json");
  });
  svr.Get("/healthz", [](const Request&, Response& res) { res.set_content(R"({"status":"ok"})", "application/json"); });
  svr.Get("/v2/health/live", [](const Request&, Response& res) {
    res.set_content(R"({"live":true})", "application/json");
  });
  svr.Get("/v2/health/ready", [this](const Request&, Response& res) {
    const bool ready = pool_.ready() && !draining.load();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? R"({"ready":true})" : R"({"ready":false})", "application/json");
  });
  svr.Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  install_web_ui(svr);
  // The wrong method on a known route: 405 with Allow.
  for (const char* path : {"/api/detect", kDeepStack})
    svr.Get(path, [](const Request&, Response& res) {
      res.set_header("Allow", "POST");
      throw HttpError(405, "method not allowed: use POST");
    });
  for (const char* path : {"/api/model", "/healthz", "/v2/health/live", "/v2/health/ready", "/metrics"})
    svr.Post(path, [](const Request& req, Response& res, const httplib::ContentReader& reader) {
      res.set_header("Allow", "GET");
      before_body(req, reader, [] { throw HttpError(405, "method not allowed: use GET"); });
    });

  // Typed errors -> statuses, in one place.
  svr.set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const HttpError& e) {
      if (e.status == 503) res.set_header("Retry-After", "1");
      shape_error(req, res, e.status, e.what());
    } catch (const std::exception& e) {
      shape_error(req, res, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      shape_error(req, res, 500, "internal error");
    }
  });
  // Errors httplib produced itself (404, 413, 400 ...) get the same body.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
    if (res.body.empty()) shape_error(req, res, res.status, default_message(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_post_routing_handler([this](const Request& req, Response& res) { count(req, res); });
  svr.set_logger([this](const Request& req, const Response& res) { log(req, res); });
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

int run_server(const ServerOptions& options) {
  ServerOptions o = options;
  if (o.workers <= 0) o.workers = available_cores();

  // SIGINT/SIGTERM are taken by a sigwait thread, never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<const engine::Model> model;
  std::shared_ptr<const detect::Labels> labels;
  detect::DetectorOptions dopt;
  try {
    if (!std::filesystem::exists(o.model))
      throw std::runtime_error("model file " + o.model + " not found: run scripts/setup, or pass --model");
    model = engine::Model::from_file(o.model);
    labels = detect::Labels::from_file(o.labels);
    dopt.engine = {engine::parse_backend(o.backend), o.threads_per_worker};
    dopt.max_pixels = o.max_pixels;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout serve: %s\n", e.what());
    return 2;
  }

  Metrics metrics;
  Pool pool(model, labels, dopt, o.workers, o.max_queue, metrics);

  const bool tls = !o.tls_cert.empty() || !o.tls_key.empty();
  std::unique_ptr<httplib::Server> svr;
  if (tls) {
    if (o.tls_cert.empty() || o.tls_key.empty()) {
      std::fprintf(stderr, "lookout serve: --tls-cert and --tls-key go together\n");
      return 2;
    }
    svr = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
  } else {
    svr = std::make_unique<httplib::Server>();
  }
  if (!svr->is_valid()) {
    std::fprintf(stderr, "lookout serve: cannot use TLS certificate %s / key %s\n", o.tls_cert.c_str(),
                 o.tls_key.c_str());
    return 2;
  }
  const size_t http_threads = static_cast<size_t>(o.workers) * 2 + 4;
  svr->new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  svr->set_payload_max_length(static_cast<size_t>(o.max_body_mb) << 20);
  svr->set_read_timeout(o.read_timeout, 0);
  svr->set_write_timeout(o.write_timeout, 0);
  svr->set_keep_alive_timeout(2);
  // Responses are written in pieces (headers, body); without TCP_NODELAY,
  // Nagle's algorithm and the client's delayed ACK add ~40 ms per request.
  svr->set_tcp_nodelay(true);
  // httplib's default adds SO_REUSEPORT, which lets a second server bind the
  // same port silently; a port in use must be an error.
  svr->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  int input_w = 0, input_h = 0;
  {
    detect::Detector probe(model, labels, dopt);
    input_w = probe.input_width();
    input_h = probe.input_height();
  }
  Service service(o, pool, metrics, std::filesystem::path(o.model).filename().string(), labels, input_w, input_h);
  service.install(*svr);

  if (!svr->bind_to_port(o.host, o.port)) {
    std::fprintf(stderr, "lookout serve: cannot listen on %s:%d (in use, or not an address here)\n", o.host.c_str(),
                 o.port);
    return 2;
  }

  // Shared with the signal thread, which may outlive this frame while it
  // sleeps out the drain bound.
  struct SignalState {
    std::atomic<bool> stopped{false};
    std::atomic<bool> stop_returned{false};
    sigset_t signals;
  };
  auto state = std::make_shared<SignalState>();
  state->signals = signals;
  const int drain_seconds = o.drain_seconds;
  httplib::Server* server = svr.get();
  Service* svc = &service;
  std::thread signal_thread([state, server, svc, drain_seconds] {
    int sig = 0;
    sigwait(&state->signals, &sig);
    if (state->stopped.exchange(true)) return;  // woken by our own exit path
    std::fprintf(stderr, "lookout serve: %s received, draining (up to %d s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                 drain_seconds);
    svc->draining = true;
    server->stop();
    state->stop_returned = true;
    // Past the drain bound, leave with what is done.
    std::this_thread::sleep_for(std::chrono::seconds(drain_seconds));
    std::fprintf(stderr, "lookout serve: drain took longer than %d s, exiting\n", drain_seconds);
    std::fflush(stderr);
    std::_Exit(0);
  });

  std::thread listener([&] { svr->listen_after_bind(); });
  int rc = 0;
  try {
    pool.wait_ready();
    std::fprintf(stderr, "lookout serve: listening on %s://%s:%d (%d workers)\n", tls ? "https" : "http",
                 o.host.c_str(), o.port, o.workers);
    std::fflush(stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout serve: %s\n", e.what());
    rc = 2;
  }
  if (rc != 0 && !state->stopped.exchange(true)) {
    svr->stop();
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  listener.join();
  if (signal_thread.joinable()) {
    if (!state->stopped.exchange(true)) {  // listen ended by itself
      pthread_kill(signal_thread.native_handle(), SIGTERM);
      signal_thread.join();
    } else {
      while (!state->stop_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      signal_thread.detach();  // it sleeps out the drain bound; exit ends it
    }
  }
  if (rc == 0) std::fprintf(stderr, "lookout serve: stopped\n");
  return rc;
}

}  // namespace lookout::server
