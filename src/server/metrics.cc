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

void Histogram::render_samples(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::lock_guard lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + labels + sep + "le=\"" + le_label(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

ModelMetrics::ModelMetrics() : queue_duration(latency_buckets()), inference_duration(latency_buckets()) {}

Metrics::Metrics() : request_duration(latency_buckets()) {}

ModelMetrics& Metrics::model(const std::string& name) {
  std::lock_guard lock(mu_);
  std::unique_ptr<ModelMetrics>& m = models_[name];
  if (!m) m = std::make_unique<ModelMetrics>();
  return *m;
}

void Metrics::count_request(const std::string& route, int code) {
  std::lock_guard lock(mu_);
  ++requests_[{route, code}];
}

std::string Metrics::render() const {
  std::string out;
  header(out, "lookout_request_duration_seconds", "Time from the request's headers to the response, in seconds.",
         "histogram");
  request_duration.render_samples(out, "lookout_request_duration_seconds", "");
  std::lock_guard lock(mu_);
  const auto model_label = [](const std::string& name) { return "model=\"" + name + "\""; };
  header(out, "lookout_queue_duration_seconds", "Time an image waited in the queue for a worker, in seconds.",
         "histogram");
  for (const auto& [name, m] : models_) m->queue_duration.render_samples(out, "lookout_queue_duration_seconds", model_label(name));
  header(out, "lookout_inference_duration_seconds", "Engine inference time per image, in seconds.", "histogram");
  for (const auto& [name, m] : models_)
    m->inference_duration.render_samples(out, "lookout_inference_duration_seconds", model_label(name));
  header(out, "lookout_requests_total", "HTTP requests answered, by route and status code.", "counter");
  for (const auto& [key, n] : requests_)
    out += "lookout_requests_total{route=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  header(out, "lookout_images_total", "Images processed, by model and outcome (ok or failed).", "counter");
  for (const auto& [name, m] : models_) {
    out += "lookout_images_total{" + model_label(name) + ",status=\"ok\"} " + std::to_string(m->images_ok.load()) + "\n";
    out += "lookout_images_total{" + model_label(name) + ",status=\"failed\"} " +
           std::to_string(m->images_failed.load()) + "\n";
  }
  header(out, "lookout_inflight_requests", "HTTP requests being handled now.", "gauge");
  out += "lookout_inflight_requests " + std::to_string(inflight.load()) + "\n";
  header(out, "lookout_queue_depth", "Images waiting in the queue for a worker, by model.", "gauge");
  for (const auto& [name, m] : models_)
    out += "lookout_queue_depth{" + model_label(name) + "} " + std::to_string(m->queue_depth.load()) + "\n";
  return out;
}

}  // namespace lookout::server
