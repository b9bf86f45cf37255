#include "server/metrics.h"

#include <cstdio>

namespace lookout::server {

namespace {

// Go's strconv 'g'-like shortest form is not needed: %.17g round-trips and
// promtool parses it; le labels use the short bucket spelling.
std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string le_label(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + help + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  std::lock_guard lock(mu_);
  ++counts_[i];
  sum_ += seconds;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  header(out, name, help, "histogram");
  std::lock_guard lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + le_label(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : request_duration(latency_buckets()), queue_duration(latency_buckets()), inference_duration(latency_buckets()) {}

void Metrics::count_request(const std::string& route, int code) {
  std::lock_guard lock(mu_);
  ++requests_[{route, code}];
}

void Metrics::count_image(bool ok) { (ok ? images_ok_ : images_failed_).fetch_add(1); }

std::string Metrics::render() const {
  std::string out;
  request_duration.render(out, "lookout_request_duration_seconds",
                          "Time from the request's headers to the response, in seconds.");
  queue_duration.render(out, "lookout_queue_duration_seconds",
                        "Time an image waited in the queue for a worker, in seconds.");
  inference_duration.render(out, "lookout_inference_duration_seconds",
                            "Engine inference time per image, in seconds.");
  header(out, "lookout_requests_total", "HTTP requests answered, by route and status code.", "counter");
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : requests_)
      out += "lookout_requests_total{route=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"} " +
             std::to_string(n) + "\n";
  }
  header(out, "lookout_images_total", "Images processed, by outcome (ok or failed).", "counter");
  out += "lookout_images_total{status=\"ok\"} " + std::to_string(images_ok_.load()) + "\n";
  out += "lookout_images_total{status=\"failed\"} " + std::to_string(images_failed_.load()) + "\n";
  header(out, "lookout_inflight_requests", "HTTP requests being handled now.", "gauge");
  out += "lookout_inflight_requests " + std::to_string(inflight.load()) + "\n";
  header(out, "lookout_queue_depth", "Images waiting in the queue for a worker.", "gauge");
  out += "lookout_queue_depth " + std::to_string(queue_depth.load()) + "\n";
  return out;
}

}  // namespace lookout::server
