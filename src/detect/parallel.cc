#include "detect/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lookout::detect {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void parallel_for(size_t count, int workers, const std::function<bool(int worker, size_t i)>& body,
                  const std::function<bool(int worker)>& start) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr first_error;
  const auto stop_on_error = [&] {
    std::lock_guard lock(mu);
    if (!first_error) first_error = std::current_exception();
    next.store(count);
  };
  const auto work = [&](int worker) {
    try {
      if (start && !start(worker)) return;
    } catch (...) {
      stop_on_error();
      return;
    }
    for (size_t i; (i = next.fetch_add(1)) < count;) {
      try {
        if (!body(worker, i)) {
          next.store(count);
          return;
        }
      } catch (...) {
        stop_on_error();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (std::thread& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace lookout::detect
