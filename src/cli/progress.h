// A one-line progress bar on stderr: done/total, images/s, ETA. Shown only
// when stderr is a terminal and the work is long (many images, or more than
// a second); cleared when done so it leaves nothing behind.
#pragma once

#include <chrono>
#include <cstddef>

namespace lookout::cli {

class Progress {
 public:
  // `enabled`: may draw at all (the caller checks isatty); drawing starts
  // once total > kManyImages or a second has passed.
  Progress(size_t total, bool enabled);
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Redraws (at most ~10 times a second, or `force`).
  void update(size_t done, bool force = false);
  // Erases the line if drawn (call before writing anything else to the terminal).
  void clear();

  static constexpr size_t kManyImages = 20;

 private:
  using Clock = std::chrono::steady_clock;
  size_t total_;
  bool enabled_;
  bool visible_ = false;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
};

}  // namespace lookout::cli
