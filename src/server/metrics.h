// Prometheus text exposition (format 0.0.4), hand-written: histograms with
// le buckets, _sum and _count; counters; gauges; HELP and TYPE lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace lookout::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  Histogram request_duration, queue_duration, inference_duration;
  std::atomic<int64_t> inflight{0};
  std::atomic<int64_t> queue_depth{0};

  void count_request(const std::string& route, int code);
  void count_image(bool ok);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<uint64_t> images_ok_{0}, images_failed_{0};
};

}  // namespace lookout::server
