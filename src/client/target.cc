#include "client/target.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "image/files.h"
#include "image/image.h"

namespace lookout::client {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

const char* sniff_content_type(const std::vector<uint8_t>& b) {
  if (b.size() >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return "image/png";
  return "image/jpeg";
}

// A failure before any server work: counted against the image only when it
// cannot be read at all.
wire::Record failed(const ImageFile& job, const std::string& target, int status, std::string error, bool permanent) {
  wire::Record r;
  r.image = job.image;
  r.target = target;
  r.ok = false;
  r.status = status;
  r.error = std::move(error);
  r.permanent = permanent;
  r.finished_at = utc_now();
  return r;
}

// ---- local -------------------------------------------------------------------

class LocalWorker : public Worker {
 public:
  LocalWorker(std::shared_ptr<const engine::Model> model, std::shared_ptr<const detect::Labels> labels,
              const detect::DetectorOptions& options)
      : detector_(std::move(model), std::move(labels), options) {}

  wire::Record process(const ImageFile& job) override {
    std::vector<uint8_t> bytes;
    try {
      bytes = image::read_file_bytes(job.path);
    } catch (const std::exception& e) {
      return failed(job, "local", 0, e.what(), true);
    }
    wire::Record r;
    r.image = job.image;
    r.target = "local";
    r.attempts = 1;
    r.file_bytes = r.bytes_sent = bytes.size();
    const Clock::time_point t0 = Clock::now();
    try {
      const detect::Result result = detector_.detect(bytes);
      r.ok = true;
      r.status = 200;
      r.width = result.width;
      r.height = result.height;
      const detect::Timings& t = result.timing;
      r.timing.decode = t.decode_ms;
      r.timing.preprocess = t.preprocess_ms;
      r.timing.inference = t.inference_ms;
      r.timing.postprocess = t.postprocess_ms;
      r.timing.total = t.total_ms();
      r.detections = wire::from_detector(result.detections);
    } catch (const image::DecodeError& e) {
      r.status = 400;
      r.error = e.what();
      r.permanent = true;
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    r.timing.round_trip = ms_since(t0);
    if (!r.ok) r.timing.total = r.timing.round_trip;
    r.finished_at = utc_now();
    return r;
  }

 private:
  detect::Detector detector_;
};

// ---- HTTP --------------------------------------------------------------------

std::unique_ptr<httplib::Client> make_client(const TargetSpec& target, const HttpOptions& o) {
  auto c = std::make_unique<httplib::Client>(target.name);
  if (!c->is_valid()) throw std::invalid_argument("cannot use target " + target.name);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_connection_timeout(std::min(o.timeout_s, 10), 0);
  c->set_read_timeout(o.timeout_s, 0);
  c->set_write_timeout(o.timeout_s, 0);
  c->enable_server_certificate_verification(o.verify_tls);
  if (!o.ca_cert.empty()) c->set_ca_cert_path(o.ca_cert);
  return c;
}

httplib::Headers auth_headers(const HttpOptions& o) {
  httplib::Headers h;
  if (!o.api_key.empty()) h.emplace("X-API-Key", o.api_key);
  return h;
}

std::string error_text(httplib::Error e, const std::string& target) {
  std::string s = httplib::to_string(e);
  if (e == httplib::Error::Connection) s += " (is `lookout serve` running at " + target + "?)";
  return s;
}

// The reason in an error answer: {"error": "..."} when it is ours, else the status line.
std::string answer_error(const httplib::Response& res) {
  try {
    return wire::Json::parse(res.body).get<wire::ErrorBody>().error;
  } catch (const std::exception&) {
  }
  return "HTTP " + std::to_string(res.status);
}

bool transient_status(int status) { return status == 503 || status == 500 || status == 502 || status == 504; }

class HttpWorker : public Worker {
 public:
  HttpWorker(const TargetSpec& target, const HttpOptions& options)
      : target_(target), options_(options), client_(make_client(target, options)) {
    // The socket of the connection in use: its send queue tells when the
    // server's kernel has acknowledged the whole body (the upload time).
    client_->set_socket_options([this](int fd) { fd_ = fd; });
    if (options_.resize_before_upload) {
      const wire::ModelInfo info = fetch_model_info(target, options).models.front();
      input_width_ = info.width;
      input_height_ = info.height;
    }
  }

  wire::Record process(const ImageFile& job) override {
    std::vector<uint8_t> original;
    try {
      original = image::read_file_bytes(job.path);
    } catch (const std::exception& e) {
      return failed(job, target_.name, 0, e.what(), true);
    }
    const uint64_t file_bytes = original.size();
    Prepared body;
    const Clock::time_point prepare_start = Clock::now();
    if (options_.resize_before_upload) {
      try {
        body = shrink_for_upload(std::move(original), input_width_, input_height_, options_.resize_quality);
      } catch (const std::exception& e) {
        wire::Record r = failed(job, target_.name, 400, std::string("cannot resize before upload: ") + e.what(), true);
        r.file_bytes = file_bytes;
        return r;
      }
    } else {
      body.content_type = sniff_content_type(original);
      body.bytes = std::move(original);
    }

    // The device's own work per image before sending, on its CPU.
    const double prepare_ms = options_.resize_before_upload ? ms_since(prepare_start) : 0.0;
    wire::Record r;
    double backoff = options_.backoff_first_ms;
    for (int attempt = 1;; ++attempt) {
      r = send_once(job, body);
      r.timing.prepare = prepare_ms;
      r.timing.total += prepare_ms;
      r.file_bytes = file_bytes;
      r.attempts = attempt;
      if (r.ok || r.permanent || attempt >= options_.max_attempts) break;
      double wait = backoff;
      if (retry_after_s_ > 0) wait = std::max(wait, retry_after_s_ * 1000.0);
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(wait));
      backoff = std::min(backoff * 2, options_.backoff_max_ms);
    }
    if (body.width > 0 && r.ok) {  // the server saw the downscaled copy
      r.width = body.width;
      r.height = body.height;
    }
    r.finished_at = utc_now();
    return r;
  }

 private:
  // Blocks until the kernel has no unacknowledged bytes left on the socket,
  // or the connection is gone (after a reset SIOCOUTQ keeps reporting the
  // bytes that will never be acknowledged).
  void wait_until_acknowledged(Clock::time_point deadline) const {
    // The poll backs off with the wait (a twentieth of it so far, from
    // 100 us up to 1 ms): the upload time stays within 5 %, and a long
    // upload at a slow link does not keep waking a capped device's CPU,
    // which its detector needs.
    const Clock::time_point start = Clock::now();
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (fd_ < 0 || now > deadline) return;
      tcp_info info{};
      socklen_t len = sizeof info;
      if (getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || info.tcpi_state != TCP_ESTABLISHED) return;
      int unacked = 0;
      if (ioctl(fd_, SIOCOUTQ, &unacked) != 0 || unacked <= 0) return;
      std::this_thread::sleep_for(std::clamp<Clock::duration>((now - start) / 20, std::chrono::microseconds(100),
                                                              std::chrono::milliseconds(1)));
    }
  }

  wire::Record send_once(const ImageFile& job, const Prepared& body) {
    wire::Record r;
    r.image = job.image;
    r.target = target_.name;
    r.bytes_sent = body.bytes.size();
    retry_after_s_ = 0;
    const std::string path = "/api/detect?id=" + httplib::detail::encode_query_param(job.image) +
                             "&threshold=" + std::to_string(options_.threshold);
    double upload_ms = 0;
    const Clock::time_point t0 = Clock::now();
    auto provider = [&](size_t offset, size_t length, httplib::DataSink& sink) {
      constexpr size_t kChunk = 64 * 1024;
      const size_t n = std::min(length, kChunk);
      if (!sink.write(reinterpret_cast<const char*>(body.bytes.data() + offset), n)) return false;
      if (offset + n == body.bytes.size()) {
        wait_until_acknowledged(t0 + std::chrono::seconds(options_.timeout_s));
        upload_ms = ms_since(t0);
      }
      return true;
    };
    httplib::Result res =
        client_->Post(path.c_str(), auth_headers(options_), body.bytes.size(), provider, body.content_type.c_str());
    r.timing.round_trip = ms_since(t0);
    r.timing.total = r.timing.round_trip;
    r.timing.upload = upload_ms;
    if (!res) {
      r.error = error_text(res.error(), target_.name);
      return r;
    }
    r.status = res->status;
    r.response_bytes = res->body.size();
    if (transient_status(res->status)) {
      if (res->has_header("Retry-After")) retry_after_s_ = std::atof(res->get_header_value("Retry-After").c_str());
      r.error = answer_error(*res);
      return r;
    }
    wire::Json doc;
    try {
      doc = wire::Json::parse(res->body);
    } catch (const wire::Json::exception&) {
      r.error = "HTTP " + std::to_string(res->status) + ": the answer is not JSON";
      r.permanent = res->status >= 400 && res->status < 500;
      return r;
    }
    // Error answers carry no "results"; the status and error body say why.
    wire::ApiResponse answer;
    if (doc.is_object() && doc.contains("results")) {
      try {
        answer = doc.get<wire::ApiResponse>();
      } catch (const wire::FormatError& e) {
        r.error = "HTTP " + std::to_string(res->status) + ": not an /api/detect answer: " + e.what();
        r.permanent = res->status >= 400 && res->status < 500;
        return r;
      }
    }
    const wire::ApiImage* item = answer.results.empty() ? nullptr : &answer.results[0];
    if (item != nullptr) {
      const wire::StageTimes& t = item->timing;
      r.timing.queue = t.queue.value_or(0.0);
      r.timing.decode = t.decode;
      r.timing.preprocess = t.preprocess;
      r.timing.inference = t.inference;
      r.timing.postprocess = t.postprocess;
    }
    if (res->status != 200 || item == nullptr || item->status != 200) {
      r.error = answer_error(*res);
      if (item != nullptr && item->error) r.error = *item->error;
      if (item != nullptr) r.status = item->status;
      // 4xx: this image or this request is wrong; retrying will not help.
      r.permanent = r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429;
      return r;
    }
    r.ok = true;
    r.width = item->width;
    r.height = item->height;
    r.detections = item->detections;
    for (wire::Detection& d : r.detections) d.box_px.reset();
    return r;
  }

  TargetSpec target_;
  HttpOptions options_;
  std::unique_ptr<httplib::Client> client_;
  int fd_ = -1;
  double retry_after_s_ = 0;
  int input_width_ = 0, input_height_ = 0;
};

}  // namespace

TargetSpec parse_target(const std::string& text) {
  if (text == "local") return {"local", true};
  const bool http = text.rfind("http://", 0) == 0, https = text.rfind("https://", 0) == 0;
  std::string url = text;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const size_t host_at = http ? 7 : 8;
  if ((!http && !https) || url.size() <= host_at || url.find('/', host_at) != std::string::npos)
    throw std::invalid_argument("target '" + text +
                                "': use 'local' or a server as http://HOST:PORT or https://HOST:PORT (no path)");
  return {url, false};
}

std::unique_ptr<Worker> make_local_worker(std::shared_ptr<const engine::Model> model,
                                          std::shared_ptr<const detect::Labels> labels,
                                          const detect::DetectorOptions& options) {
  return std::make_unique<LocalWorker>(std::move(model), std::move(labels), options);
}

std::unique_ptr<Worker> make_http_worker(const TargetSpec& target, const HttpOptions& options) {
  return std::make_unique<HttpWorker>(target, options);
}

Prepared shrink_for_upload(std::vector<uint8_t> original, int width, int height, int quality) {
  image::DecodeOptions decode;
  decode.min_width = width;
  decode.min_height = height;
  const image::Decoded d = image::decode(original, decode);
  Prepared p;
  p.width = d.full_width;
  p.height = d.full_height;
  std::vector<uint8_t> small = image::encode_jpeg(image::resize_bilinear(d.image, width, height), quality);
  if (small.size() < original.size()) {
    p.bytes = std::move(small);
    p.content_type = "image/jpeg";
  } else {
    p.content_type = sniff_content_type(original);
    p.bytes = std::move(original);
  }
  return p;
}

wire::ModelCatalog fetch_model_info(const TargetSpec& target, const HttpOptions& options) {
  auto c = make_client(target, options);
  httplib::Result res = c->Get("/api/model", auth_headers(options));
  if (!res) throw std::runtime_error(target.name + "/api/model: " + error_text(res.error(), target.name));
  if (res->status != 200)
    throw std::runtime_error(target.name + "/api/model: " + answer_error(*res));
  try {
    return wire::Json::parse(res->body).get<wire::ModelCatalog>();
  } catch (const wire::Json::exception& e) {
    throw std::runtime_error(target.name + "/api/model: not JSON: " + e.what());
  } catch (const wire::FormatError& e) {
    throw std::runtime_error(target.name + "/api/model: " + e.what());
  }
}

double measure_rtt_ms(const TargetSpec& target, const HttpOptions& options, int samples) {
  auto c = make_client(target, options);
  std::vector<double> ms;
  for (int i = 0; i <= std::max(1, samples); ++i) {  // the first one also connects: not counted
    const Clock::time_point t0 = Clock::now();
    httplib::Result res = c->Get("/healthz");
    if (!res) throw std::runtime_error(target.name + "/healthz: " + error_text(res.error(), target.name));
    if (i > 0) ms.push_back(ms_since(t0));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace lookout::client
