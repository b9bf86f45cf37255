#include "server/pool.h"

#include "image/image.h"
#include "server/metrics.h"

namespace lookout::server {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The warm-up inference's input: a small JPEG (the format most requests
// carry) of a gray pattern, made by the project's own encoder.
constexpr int kWarmupSide = 8;
std::vector<uint8_t> warmup_jpeg() {
  image::Image img;
  img.width = img.height = kWarmupSide;
  for (int y = 0; y < kWarmupSide; ++y)
    for (int x = 0; x < kWarmupSide; ++x) img.rgb.insert(img.rgb.end(), 3, static_cast<uint8_t>((x * 7 + y * 13) & 0xff));
  return image::encode_jpeg(img, 90);
}

}  // namespace

Pool::Pool(std::shared_ptr<const engine::Model> model, std::shared_ptr<const detect::Labels> labels,
           detect::DetectorOptions options, int workers, int max_queue, ModelMetrics& metrics)
    : model_(std::move(model)), labels_(std::move(labels)), options_(std::move(options)),
      max_queue_(max_queue), metrics_(metrics) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { work_loop(i); });
}

Pool::~Pool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  for (Pending& p : queue_) {
    p.done.set_value(wire::api_image_failed("", 503, "server shutting down", 0));
  }
}

void Pool::wait_ready() {
  std::unique_lock lock(mu_);
  ready_cv_.wait(lock, [&] { return !failure_.empty() || warmed_ == static_cast<int>(threads_.size()); });
  if (!failure_.empty()) throw std::runtime_error(failure_);
}

bool Pool::ready() const {
  std::lock_guard lock(mu_);
  return failure_.empty() && warmed_ == static_cast<int>(threads_.size());
}

std::optional<std::vector<std::future<wire::ApiImage>>> Pool::submit(std::vector<DetectJob> jobs) {
  std::vector<std::future<wire::ApiImage>> futures;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() + jobs.size() > static_cast<size_t>(max_queue_)) return std::nullopt;
    const auto now = Clock::now();
    for (DetectJob& job : jobs) {
      queue_.push_back(Pending{std::move(job), now, {}});
      futures.push_back(queue_.back().done.get_future());
    }
    metrics_.queue_depth.store(static_cast<int64_t>(queue_.size()));
  }
  cv_.notify_all();
  return futures;
}

void Pool::work_loop(int index) {
  std::unique_ptr<detect::Detector> detector;
  try {
    detector = std::make_unique<detect::Detector>(model_, labels_, options_);
    try {
      detector->detect(warmup_jpeg());
    } catch (const image::TooLargeError&) {
      // --max-pixels below the warm-up's 64: no warm-up inference, the first request pays.
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    if (failure_.empty()) failure_ = "worker " + std::to_string(index) + ": " + e.what();
    ready_cv_.notify_all();
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++warmed_;
  }
  ready_cv_.notify_all();

  for (;;) {
    Pending p;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // the destructor answers what is left
      p = std::move(queue_.front());
      queue_.pop_front();
      metrics_.queue_depth.store(static_cast<int64_t>(queue_.size()));
    }
    const double queue_ms = ms_since(p.enqueued);
    metrics_.queue_duration.observe(queue_ms / 1000.0);
    wire::ApiImage o;
    try {
      detect::Result result = p.job.input == DetectJob::Input::rgb ? detector->detect_rgb(p.job.bytes, p.job.filter)
                                                                   : detector->detect(p.job.bytes, p.job.filter);
      if (p.job.raw != nullptr) *p.job.raw = std::move(result.raw);
      metrics_.inference_duration.observe(result.timing.inference_ms / 1000.0);
      o = wire::api_image("", result, queue_ms);
    } catch (const image::DecodeError& e) {
      o = wire::api_image_failed("", 400, e.what(), queue_ms);
    } catch (const std::exception& e) {
      o = wire::api_image_failed("", 500, std::string("detection failed: ") + e.what(), queue_ms);
    }
    metrics_.count_image(o.status == 200);
    p.done.set_value(std::move(o));
  }
}

}  // namespace lookout::server
