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

bool is_deepstack(const httplib::Request& req) { return req.path == kDeepStack; }

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

std::array<uint8_t, SHA256_DIGEST_LENGTH> sha256(const std::string& s) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

class Service {
 public:
  Service(const ServerOptions& o, Pool& pool, Metrics& metrics, std::string model_name,
          std::shared_ptr<const detect::Labels> labels, int input_w, int input_h, wire::KServeModelMetadata kserve)
      : o_(o), pool_(pool), metrics_(metrics), model_name_(std::move(model_name)), labels_(std::move(labels)),
        input_w_(input_w), input_h_(input_h), key_digest_(sha256(o.api_key)), kserve_{std::move(kserve), &pool} {}

  void install(httplib::Server& svr);
  std::atomic<bool> draining{false};

 private:
  void check_key(const httplib::Request& req) const;
  std::vector<wire::ApiImage> detect_images(const std::vector<Upload>& images, const detect::Filter& filter);
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
  KServeModel kserve_;
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

std::vector<wire::ApiImage> Service::detect_images(const std::vector<Upload>& images, const detect::Filter& filter) {
  std::vector<DetectJob> jobs;
  for (const Upload& u : images)
    jobs.push_back({std::span(reinterpret_cast<const uint8_t*>(u.data.data()), u.data.size()), filter});
  auto futures = pool_.submit(std::move(jobs));
  if (!futures)
    throw HttpError(503, "queue full: " + std::to_string(images.size()) + " image(s) do not fit in --max-queue " +
                             std::to_string(pool_.max_queue()) + "; retry later");
  std::vector<wire::ApiImage> out;
  for (size_t i = 0; i < images.size(); ++i) {
    out.push_back((*futures)[i].get());
    out.back().id = images[i].id;
  }
  return out;
}

void Service::detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  DetectRequest parsed = read_detect(req, res, reader, o_.max_body_mb, [&] { check_key(req); });
  const std::vector<Upload>& images = parsed.images;
  t_state.images = static_cast<int>(images.size());

  size_t total_bytes = 0;
  for (const Upload& u : images) total_bytes += u.data.size();
  wire::ApiResponse answer;
  answer.results = detect_images(images, parsed.filter);

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

void Service::deepstack(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  const auto t0 = Clock::now();
  const DeepStackRequest parsed = read_deepstack(req, res, reader, o_.max_body_mb, [&] { check_key(req); });
  t_state.images = 1;
  const wire::ApiImage image = detect_images({parsed.image}, parsed.filter)[0];
  if (image.status != 200) throw HttpError(image.status, image.error.value_or("detection failed"));
  res.set_content(wire::dump(wire::deepstack_response(image, ms_between(t0, Clock::now()))), "application/json");
}

const char* route_label(const std::string& path) {
  static const char* routes[] = {"/api/detect", "/v1/vision/detection", "/api/model", "/healthz",
                                 "/v2/health/live", "/v2/health/ready", "/metrics"};
  for (const char* r : routes)
    if (path == r) return r;
  if (const char* kserve = kserve_route_label(path)) return kserve;
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
  install_kserve(svr, {[this](const std::string& name) { return name == kserve_.metadata.name ? &kserve_ : nullptr; },
                       [this] { return std::vector<std::string>{kserve_.metadata.name}; },
                       [this](const Request& req) { check_key(req); }, [this] { return !draining.load(); }});
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

  int input_w = 0, input_h = 0;
  {
    detect::Detector probe(model, labels, dopt);
    input_w = probe.input_width();
    input_h = probe.input_height();
  }
  Service service(o, pool, metrics, std::filesystem::path(o.model).filename().string(), labels, input_w, input_h,
                  kserve_metadata(std::filesystem::path(o.model).stem().string(), *model));
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
