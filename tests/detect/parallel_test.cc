// parallel_for: every index exactly once over several threads, the stop
// request, the first exception rethrown, the per-worker start; available_cores against the
// process's own affinity mask.
#include "detect/parallel.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace lookout::detect {
namespace {

TEST(ParallelFor, EveryIndexExactlyOnce) {
  constexpr size_t kCount = 10000;
  std::vector<std::atomic<int>> calls(kCount);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::set<int> workers;
  parallel_for(kCount, 4, [&](int worker, size_t i) {
    calls[i]++;
    std::lock_guard lock(mu);
    threads.insert(std::this_thread::get_id());
    workers.insert(worker);
    return true;
  });
  for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(calls[i].load(), 1) << "index " << i;
  // Worker numbers stay in range and each names one thread.
  EXPECT_LE(workers.size(), 4u);
  for (int w : workers) EXPECT_TRUE(w >= 0 && w < 4) << w;
  EXPECT_EQ(threads.size(), workers.size());
}

TEST(ParallelFor, WorkersRunAtTheSameTime) {
  // Each of the 3 workers waits at the first index until all 3 have arrived:
  // this only finishes when they really run in parallel.
  std::atomic<int> arrived{0};
  parallel_for(3, 3, [&](int, size_t) {
    ++arrived;
    while (arrived.load() < 3) std::this_thread::yield();
    return true;
  });
  EXPECT_EQ(arrived.load(), 3);
}

TEST(ParallelFor, NothingToDo) {
  bool called = false;
  parallel_for(0, 4, [&](int, size_t) { return called = true; });
  EXPECT_FALSE(called);
}

TEST(ParallelFor, FewerThanOneWorkerIsOne) {
  std::vector<int> seen;  // one worker: no lock needed, indices in order
  parallel_for(5, 0, [&](int worker, size_t i) {
    EXPECT_EQ(worker, 0);
    seen.push_back(static_cast<int>(i));
    return true;
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(ParallelFor, FalseStopsTakingIndices) {
  std::vector<size_t> seen;  // one worker: the stop is exact
  parallel_for(100, 1, [&](int, size_t i) {
    seen.push_back(i);
    return i != 10;
  });
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(seen.back(), 10u);
}

// With several workers the others finish what they already took; the rest
// of the indices (at 10 us each, seconds of work) are never started.
TEST(ParallelFor, FalseStopsEveryWorker) {
  constexpr size_t kCount = 1'000'000;
  std::atomic<size_t> calls{0};
  parallel_for(kCount, 4, [&](int, size_t i) {
    ++calls;
    if (i == 10) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(10));
    return true;
  });
  EXPECT_GE(calls.load(), 11u);
  EXPECT_LT(calls.load(), kCount / 2);
}

TEST(ParallelFor, FirstExceptionIsRethrownAfterAllStop) {
  constexpr size_t kCount = 1'000'000;
  std::atomic<size_t> calls{0};
  try {
    parallel_for(kCount, 4, [&](int, size_t i) {
      ++calls;
      if (i == 7) throw std::runtime_error("image 7 failed");
      std::this_thread::sleep_for(std::chrono::microseconds(10));
      return true;
    });
    FAIL() << "the exception was lost";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "image 7 failed");
  }
  EXPECT_LT(calls.load(), kCount / 2);
}

TEST(ParallelFor, StartRunsOnEachWorkersThreadFirst) {
  std::mutex mu;
  std::vector<std::thread::id> started(3);
  std::set<int> bodies_before_start;
  parallel_for(
      1000, 3,
      [&](int worker, size_t) {
        std::lock_guard lock(mu);
        if (started[static_cast<size_t>(worker)] != std::this_thread::get_id()) bodies_before_start.insert(worker);
        return true;
      },
      [&](int worker) {
        std::lock_guard lock(mu);
        started[static_cast<size_t>(worker)] = std::this_thread::get_id();
        return true;
      });
  EXPECT_TRUE(bodies_before_start.empty());
  EXPECT_EQ(started[0], std::this_thread::get_id());  // worker 0 is the caller
  EXPECT_NE(started[1], std::thread::id());
  EXPECT_NE(started[2], std::thread::id());
}

TEST(ParallelFor, AWorkerThatCannotStartLeavesItsShareToTheOthers) {
  constexpr size_t kCount = 1000;
  std::vector<std::atomic<int>> calls(kCount);
  std::atomic<int> by_worker_1{0};
  parallel_for(
      kCount, 3,
      [&](int worker, size_t i) {
        calls[i]++;
        if (worker == 1) ++by_worker_1;
        return true;
      },
      [](int worker) { return worker != 1; });
  for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(calls[i].load(), 1) << "index " << i;
  EXPECT_EQ(by_worker_1.load(), 0);
}

TEST(ParallelFor, AnExceptionFromStartIsRethrown) {
  EXPECT_THROW(parallel_for(
                   10, 2, [](int, size_t) { return true; },
                   [](int worker) -> bool {
                     if (worker == 1) throw std::runtime_error("no detector");
                     return true;
                   }),
               std::runtime_error);
}

TEST(AvailableCores, MatchesTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(available_cores(), CPU_COUNT(&set));
}

TEST(AvailableCores, FollowsANarrowedMask) {
  // On a thread of its own, so the test process keeps its mask.
  int seen = 0;
  std::thread t([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int first = 0;
    while (!CPU_ISSET(first, &set)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    seen = available_cores();
  });
  t.join();
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace lookout::detect
