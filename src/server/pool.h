// W workers, each owning a Detector (thread-safe by ownership), taking image
// jobs from one bounded queue. A request's images are admitted together or
// not at all, then the handler waits on their futures.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "detect/detector.h"
#include "wire/detection.h"

namespace lookout::server {

struct ModelMetrics;

// One image waiting for a detector.
struct DetectJob {
  enum class Input {
    encoded,  // a JPEG or PNG: decoded and resized
    rgb,      // the model input as it is (Detector::detect_rgb)
  };
  std::span<const uint8_t> bytes;  // owned by the waiting handler
  detect::Filter filter;
  Input input = Input::encoded;
  // When set (owned by the waiting handler): receives the model's raw
  // outputs before the future is ready.
  detect::RawOutputs* raw = nullptr;
};

class Pool {
 public:
  Pool(std::shared_ptr<const engine::Model> model, std::shared_ptr<const detect::Labels> labels,
       detect::DetectorOptions options, int workers, int max_queue, ModelMetrics& metrics);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Blocks until every worker built its detector and ran one inference;
  // throws the first worker's construction error.
  void wait_ready();
  bool ready() const;

  // All of `jobs` queued, or none when they would take the queue past
  // max_queue (std::nullopt: the caller answers 503).
  std::optional<std::vector<std::future<wire::ApiImage>>> submit(std::vector<DetectJob> jobs);

  int workers() const { return static_cast<int>(threads_.size()); }
  int max_queue() const { return max_queue_; }

 private:
  struct Pending {
    DetectJob job;
    std::chrono::steady_clock::time_point enqueued;
    std::promise<wire::ApiImage> done;
  };
  void work_loop(int index);

  std::shared_ptr<const engine::Model> model_;
  std::shared_ptr<const detect::Labels> labels_;
  detect::DetectorOptions options_;
  int max_queue_;
  ModelMetrics& metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_, ready_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  int warmed_ = 0;
  std::string failure_;
  std::vector<std::thread> threads_;
};

}  // namespace lookout::server
