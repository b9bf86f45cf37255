// Prometheus text exposition (format 0.0.4), hand-written: histograms with
// le buckets, _sum and _count; counters; gauges; HELP and TYPE lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace lookout::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  // The samples of one label set (`labels`: e.g. model="x", or empty); the
  // family's HELP and TYPE lines are the caller's (write_header).
  void render_samples(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// What one served model's pool records; rendered with a model="NAME" label.
struct ModelMetrics {
  ModelMetrics();
  Histogram queue_duration, inference_duration;
  std::atomic<int64_t> queue_depth{0};
  std::atomic<uint64_t> images_ok{0}, images_failed{0};
  void count_image(bool ok) { (ok ? images_ok : images_failed).fetch_add(1); }
};

class Metrics {
 public:
  Metrics();
  Histogram request_duration;
  std::atomic<int64_t> inflight{0};

  // The model's metrics, created on first use; the reference stays valid
  // for the Metrics' lifetime.
  ModelMetrics& model(const std::string& name);
  void count_request(const std::string& route, int code);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, std::unique_ptr<ModelMetrics>> models_;  // by name, so /metrics is stable
};

}  // namespace lookout::server
