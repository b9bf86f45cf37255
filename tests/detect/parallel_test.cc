// available_cores against the process's own affinity mask.
#include "detect/parallel.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace lookout::detect {
namespace {

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
