#include "cli/progress.h"

#include <cstdio>
#include <string>

namespace lookout::cli {

namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr auto kShowAfter = std::chrono::seconds(1);

std::string duration_text(double seconds) {
  char buf[32];
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace

Progress::Progress(size_t total, bool enabled) : total_(total), enabled_(enabled && total > 0), start_(Clock::now()) {}

void Progress::update(size_t done, bool force) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (total_ <= kManyImages && now - start_ < kShowAfter) return;
  if (!force && visible_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;

  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const int filled = static_cast<int>(static_cast<double>(kBarWidth) * static_cast<double>(done) / static_cast<double>(total_));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  const std::string eta = rate > 0 ? duration_text(static_cast<double>(total_ - done) / rate) : "?";
  std::fprintf(stderr, "\r\033[K[%s] %zu/%zu  %.1f images/s  ETA %s", bar.c_str(), done, total_, rate, eta.c_str());
  std::fflush(stderr);
  visible_ = true;
}

void Progress::clear() {
  if (!visible_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  visible_ = false;
}

}  // namespace lookout::cli
