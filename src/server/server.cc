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

#include "detect/parallel.h"
#include "engine/isa.h"
#include "server/connections.h"
#include "server/kserve.h"
#include "server/metrics.h"
#include "server/pool.h"
#include "server/request.h"
#include "server/web_ui.h"
#include "wire/detection.h"

namespace lookout::server {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

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
const char* kCustomList = "/v1/vision/custom/list";
const char* kCustomModel = R"(/v1/vision/custom/([^/]+))";

// DeepStack's and CodeProject.AI's routes answer errors in their shape.
bool is_deepstack(const httplib::Request& req) { return req.path.rfind("/v1/", 0) == 0; }

// The one error-body shaper: DeepStack's shape on its route, ours elsewhere.
void shape_error(const httplib::Request& req, httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(wire::dump(wire::ErrorBody{message, status, is_deepstack(req)}), "application/json");
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

// CodeProject.AI's requestId: a random UUID (version 4).
std::string request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// RFC 1123 in UTC ("Wed, 02 Dec 2026 01:02:03 GMT"), as CodeProject.AI writes timestampUTC.
std::string rfc1123_now() {
  const std::time_t tt = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// One model being served: its name, its file and its warmed detectors.
struct ServedModel {
  std::string name;
  std::string file;
  std::unique_ptr<Pool> pool;
  int input_w = 0, input_h = 0;
  KServeModel kserve;  // as the KServe V2 routes show it
};

class Service {
 public:
  Service(const ServerOptions& o, std::vector<ServedModel>& models, Metrics& metrics,
          std::shared_ptr<const detect::Labels> labels, std::string execution_provider)
      : o_(o), models_(models), metrics_(metrics), labels_(std::move(labels)), key_(o.api_key),
        execution_provider_(std::move(execution_provider)) {}

  void install(httplib::Server& svr);
  std::atomic<bool> draining{false};

 private:
  // The model of that name; a 404 naming the ones there are otherwise.
  ServedModel& model_named(const std::string& name) const;
  std::vector<wire::ApiImage> detect_images(ServedModel& model, const std::vector<Upload>& images,
                                            const detect::Filter& filter);
  void count(const httplib::Request& req, const httplib::Response& res);
  void log(const httplib::Request& req, const httplib::Response& res);
  void detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void deepstack(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                 const std::string& model_name);
  bool ready() const;
  // The key from a header (these routes take no form field); HttpError 401 without it.
  void require_key_header(const httplib::Request& req) const;

  const ServerOptions& o_;
  std::vector<ServedModel>& models_;
  Metrics& metrics_;
  std::shared_ptr<const detect::Labels> labels_;
  ApiKey key_;
  // "reference", "xnnpack" or "xnnpack+<level>" (+avx512vnni, +avxvnni,
  // +avx2): the kernels that run
  std::string execution_provider_;
  std::mutex log_mu_;
};

ServedModel& Service::model_named(const std::string& name) const {
  for (ServedModel& m : models_)
    if (m.name == name) return m;
  std::string names;
  for (const ServedModel& m : models_) names += (names.empty() ? "" : ", ") + m.name;
  throw HttpError(404, "no model named '" + name + "': this server has " + names);
}

void Service::require_key_header(const httplib::Request& req) const {
  if (key_.required() && !key_.check_headers(req))
    throw HttpError(401, "missing API key: send Authorization: Bearer KEY or X-API-Key: KEY");
}

bool Service::ready() const {
  for (const ServedModel& m : models_)
    if (!m.pool->ready()) return false;
  return !draining.load();
}

std::vector<wire::ApiImage> Service::detect_images(ServedModel& model, const std::vector<Upload>& images,
                                                   const detect::Filter& filter) {
  std::vector<DetectJob> jobs;
  for (const Upload& u : images)
    jobs.push_back({std::span(reinterpret_cast<const uint8_t*>(u.data.data()), u.data.size()), filter});
  auto futures = model.pool->submit(std::move(jobs));
  if (!futures)
    throw HttpError(503, "queue full: " + std::to_string(images.size()) + " image(s) do not fit in --max-queue " +
                             std::to_string(model.pool->max_queue()) + " of model " + model.name + "; retry later");
  std::vector<wire::ApiImage> out;
  for (size_t i = 0; i < images.size(); ++i) {
    out.push_back((*futures)[i].get());
    out.back().id = images[i].id;
  }
  return out;
}

void Service::detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  ServedModel* model = &models_.front();
  DetectRequest parsed = read_detect(req, res, reader, o_.max_body_mb, [&] {
    require_key_header(req);
    if (req.has_param("model")) model = &model_named(req.get_param_value("model"));
  });
  const std::vector<Upload>& images = parsed.images;
  t_state.images = static_cast<int>(images.size());

  size_t total_bytes = 0;
  for (const Upload& u : images) total_bytes += u.data.size();
  wire::ApiResponse answer;
  answer.results = detect_images(*model, images, parsed.filter);

  const int n = static_cast<int>(images.size());
  double inference_sum = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    wire::ApiImage& r = answer.results[i];
    if (r.status == 200) {
      ++answer.summary.ok;
      inference_sum += r.timing.inference;
    }
    // Upload time apportioned by bytes across the batch.
    r.timing.upload = total_bytes ? parsed.upload_ms * static_cast<double>(images[i].data.size()) /
                                        static_cast<double>(total_bytes)
                                  : 0.0;
  }
  answer.summary.images = n;
  answer.summary.failed = n - answer.summary.ok;
  answer.summary.upload_ms = parsed.upload_ms;
  answer.summary.avg_upload_ms = parsed.upload_ms / n;
  answer.summary.avg_inference_ms = answer.summary.ok ? inference_sum / answer.summary.ok : 0.0;
  // One image sent, and it was refused: the request carries its status.
  res.status = 200;
  if (n == 1 && answer.results[0].status != 200) {
    res.status = answer.results[0].status;
    answer.error = answer.results[0].error;
    answer.code = answer.results[0].status;
  }
  res.set_content(wire::dump(answer), "application/json");
}

void Service::deepstack(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                        const std::string& model_name) {
  const auto t0 = Clock::now();
  ServedModel* model = &models_.front();
  const DeepStackRequest parsed = read_deepstack(req, res, reader, o_.max_body_mb, key_, [&] {
    if (!model_name.empty()) model = &model_named(model_name);
  });
  t_state.images = 1;
  const wire::ApiImage image = detect_images(*model, {parsed.image}, parsed.filter)[0];
  if (image.status != 200) throw HttpError(image.status, image.error.value_or("detection failed"));
  wire::DeepStackResponse answer = wire::deepstack_response(image, ms_between(t0, Clock::now()));
  answer.request_id = request_id();
  answer.execution_provider = execution_provider_;
  answer.timestamp_utc = rfc1123_now();
  res.set_content(wire::dump(answer), "application/json");
}

const char* route_label(const std::string& path) {
  static const char* routes[] = {"/api/detect",      "/v1/vision/detection", "/v1/vision/custom/list",
                                 "/v1/server/status/ping", "/v1/status/ping", "/api/model",
                                 "/healthz",          "/v2/health/live",      "/v2/health/ready",
                                 "/metrics"};
  for (const char* r : routes)
    if (path == r) return r;
  if (const char* kserve = kserve_route_label(path)) return kserve;
  if (path.rfind("/v1/vision/custom/", 0) == 0) return "/v1/vision/custom/{model}";
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
    deepstack(req, res, reader, "");
  });
  // Blue Iris and Agent DVR list with POST, scripts with GET; both carry the key.
  const auto custom_list = [this](const Request& req, Response& res, const httplib::ContentReader* reader) {
    if (reader != nullptr) read_deepstack_auth(req, res, *reader, o_.max_body_mb, key_);
    else if (key_.required() && !key_.check_headers(req)) {
      const std::string given = req.get_param_value("api_key");
      key_.check_field(req.has_param("api_key") ? &given : nullptr);
    }
    wire::DeepStackModelList list;
    for (const ServedModel& m : models_) list.models.push_back(m.name);
    res.set_content(wire::dump(list), "application/json");
  };
  svr.Post(kCustomList, [custom_list](const Request& req, Response& res, const httplib::ContentReader& reader) {
    custom_list(req, res, &reader);
  });
  svr.Get(kCustomList, [custom_list](const Request& req, Response& res) { custom_list(req, res, nullptr); });
  svr.Post(kCustomModel, [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
    deepstack(req, res, reader, req.matches[1].str());
  });
  for (const char* path : {"/v1/server/status/ping", "/v1/status/ping"})
    svr.Get(path, [](const Request&, Response& res) { res.set_content(R"({"success":true})", "application/json"); });
  svr.Get("/api/model", [this](const Request&, Response& res) {
    wire::ModelCatalog catalog;
    for (const ServedModel& m : models_)
      catalog.models.push_back({m.name, m.file, m.input_w, m.input_h, 3, execution_provider_, m.pool->workers()});
    catalog.labels = labels_->entries();
    res.set_content(wire::dump(catalog), "application/json");
  });
  svr.Get("/healthz", [](const Request&, Response& res) { res.set_content(R"({"status":"ok"})", "application/json"); });
  svr.Get("/v2/health/live", [](const Request&, Response& res) {
    res.set_content(R"({"live":true})", "application/json");
  });
  svr.Get("/v2/health/ready", [this](const Request&, Response& res) {
    const bool ready = this->ready();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? R"({"ready":true})" : R"({"ready":false})", "application/json");
  });
  svr.Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  install_kserve(svr, {[this](const std::string& name) -> const KServeModel* {
                         for (const ServedModel& m : models_)
                           if (m.name == name) return &m.kserve;
                         return nullptr;
                       },
                       [this] {
                         std::vector<std::string> names;
                         for (const ServedModel& m : models_) names.push_back(m.name);
                         return names;
                       },
                       [this](const Request& req) { require_key_header(req); },
                       [this] { return !draining.load(); },
                       [](int images) { t_state.images = images; }});
  install_web_ui(svr);
  // The wrong method on a known route: 405 with Allow.
  for (const char* path : {"/api/detect", kDeepStack, kCustomModel})
    svr.Get(path, [](const Request&, Response& res) {
      res.set_header("Allow", "POST");
      throw HttpError(405, "method not allowed: use POST");
    });
  for (const char* path : {"/api/model", "/healthz", "/v2/health/live", "/v2/health/ready", "/metrics",
                           "/v1/server/status/ping", "/v1/status/ping"})
    svr.Post(path, [](const Request& req, Response& res, const httplib::ContentReader& reader) {
      res.set_header("Allow", "GET");
      refuse_after_body(req, reader, 405, "method not allowed: use GET");
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

}  // namespace

int run_server(const ServerOptions& options) {
  ServerOptions o = options;
  if (o.workers <= 0) o.workers = detect::available_cores();

  // SIGINT/SIGTERM are taken by a sigwait thread, never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<const detect::Labels> labels;
  detect::DetectorOptions dopt;
  std::vector<std::shared_ptr<const engine::Model>> loaded;
  try {
    if (o.models.empty()) throw std::runtime_error("no model to serve: pass --model");
    for (const ModelSpec& spec : o.models) {
      if (!std::filesystem::exists(spec.path))
        throw std::runtime_error("model file " + spec.path + " not found: run scripts/setup, or pass --model");
      loaded.push_back(engine::Model::from_file(spec.path));
    }
    labels = detect::Labels::from_file(o.labels);
    dopt.engine = {engine::parse_backend(o.backend), o.threads_per_worker};
    dopt.engine.isa = o.isa.empty() ? engine::default_isa() : engine::parse_isa(o.isa);
    engine::require_isa(*dopt.engine.isa);
    dopt.max_pixels = o.max_pixels;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout serve: %s\n", e.what());
    return 2;
  }

  Metrics metrics;
  // --workers detectors in all, shared out in model order; each model gets one at least.
  const int n_models = static_cast<int>(o.models.size());
  std::vector<ServedModel> models;
  for (int i = 0; i < n_models; ++i) {
    const int workers = std::max(1, o.workers / n_models + (i < o.workers % n_models ? 1 : 0));
    ServedModel m;
    m.name = o.models[static_cast<size_t>(i)].name;
    m.file = std::filesystem::path(o.models[static_cast<size_t>(i)].path).filename().string();
    try {
      detect::Detector probe(loaded[static_cast<size_t>(i)], labels, dopt);
      m.input_w = probe.input_width();
      m.input_h = probe.input_height();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lookout serve: model %s: %s\n", m.name.c_str(), e.what());
      return 2;
    }
    m.pool = std::make_unique<Pool>(loaded[static_cast<size_t>(i)], labels, dopt, workers, o.max_queue,
                                    metrics.model(m.name));
    m.kserve = {kserve_metadata(m.name, *loaded[static_cast<size_t>(i)]), m.pool.get()};
    models.push_back(std::move(m));
  }

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
  const size_t max_connections = static_cast<size_t>(o.max_connections);
  svr->new_task_queue = [max_connections] { return new ConnectionQueue(max_connections); };
  svr->set_payload_max_length(static_cast<size_t>(o.max_body_mb) << 20);
  svr->set_read_timeout(o.read_timeout, 0);
  svr->set_write_timeout(o.write_timeout, 0);
  svr->set_keep_alive_timeout(o.keep_alive_timeout);
  // httplib's default closes a keep-alive connection after 5 requests; a
  // busy client would reconnect every 5 images.
  svr->set_keep_alive_max_count(100);
  // Responses are written in pieces (headers, body); without TCP_NODELAY,
  // Nagle's algorithm and the client's delayed ACK add ~40 ms per request.
  svr->set_tcp_nodelay(true);
  // httplib's default adds SO_REUSEPORT, which lets a second server bind the
  // same port silently; a port in use must be an error.
  svr->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  const engine::Isa isa = *dopt.engine.isa;
  const std::string provider = dopt.engine.backend == engine::Backend::xnnpack && isa != engine::Isa::xnnpack
                                   ? std::string("xnnpack+") + engine::isa_name(isa)
                                   : engine::backend_name(dopt.engine.backend);
  Service service(o, models, metrics, labels, provider);
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
    int workers = 0;
    std::string names;
    for (ServedModel& m : models) {
      m.pool->wait_ready();
      workers += m.pool->workers();
      names += (names.empty() ? "" : ", ") + m.name + (names.empty() && models.size() > 1 ? " (default)" : "");
    }
    std::fprintf(stderr, "lookout serve: listening on %s://%s:%d (%d workers; model%s %s)\n", tls ? "https" : "http",
                 o.host.c_str(), o.port, workers, models.size() == 1 ? "" : "s", names.c_str());
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
