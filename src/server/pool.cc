#include "server/pool.h"

#include <array>

#include "image/image.h"
#include "server/metrics.h"

namespace lookout::server {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

void chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  put32(png, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put32(png, crc32(body.data(), body.size()));
}

}  // namespace

std::vector<uint8_t> warmup_png(int width, int height) {
  std::vector<uint8_t> raw;  // filter byte 0 + gray row
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    for (int x = 0; x < width; ++x) raw.push_back(static_cast<uint8_t>((x * 7 + y * 13) & 0xff));
  }
  std::vector<uint8_t> z = {0x78, 0x01};  // zlib header, stored blocks
  uint32_t a = 1, b = 0;
  for (uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  for (size_t off = 0; off < raw.size() || off == 0;) {
    const size_t n = std::min<size_t>(65535, raw.size() - off);
    const bool last = off + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<uint8_t>(n & 0xff));
    z.push_back(static_cast<uint8_t>(n >> 8));
    z.push_back(static_cast<uint8_t>(~n & 0xff));
    z.push_back(static_cast<uint8_t>((~n >> 8) & 0xff));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(off), raw.begin() + static_cast<std::ptrdiff_t>(off + n));
    off += n;
    if (last) break;
  }
  put32(z, (b << 16) | a);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put32(ihdr, static_cast<uint32_t>(width));
  put32(ihdr, static_cast<uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit gray, deflate, no interlace
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

Pool::Pool(std::shared_ptr<const engine::Model> model, std::shared_ptr<const detect::Labels> labels,
           detect::DetectorOptions options, int workers, int max_queue, Metrics& metrics)
    : model_(std::move(model)), labels_(std::move(labels)), options_(std::move(options)),
      max_queue_(max_queue), metrics_(metrics) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { run(i); });
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

size_t Pool::depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
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

void Pool::run(int index) {
  std::unique_ptr<detect::Detector> detector;
  try {
    detector = std::make_unique<detect::Detector>(model_, labels_, options_);
    const std::vector<uint8_t> png = warmup_png(8, 8);
    try {
      detector->detect(png);
    } catch (const image::TooLargeError&) {
      // --max-pixels below 64: no warm-up inference, the first request pays.
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
