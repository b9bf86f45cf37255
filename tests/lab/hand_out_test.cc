// The shared queue's hand-out rule (client::leave_to_others) and a run
// that follows it. The run's workers here are stand-ins of known pace: what
// is under test is who takes which image, not detection (the lab tests run
// the rule with real detectors and servers).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "client/run.h"

namespace lookout::client {
namespace {

TEST(LeaveToOthers, OnlyWhenTheOthersFinishTheRestFirst) {
  // 10 images left; one other worker at 10 ms per image finishes them in 100 ms.
  EXPECT_FALSE(leave_to_others(99, {{10, 0}}, 10));
  EXPECT_TRUE(leave_to_others(100, {{10, 0}}, 10));
  // What the others are still on counts: 5 ms left of a 10 ms image is half an image more.
  EXPECT_FALSE(leave_to_others(104, {{10, 5}}, 10));
  EXPECT_TRUE(leave_to_others(105, {{10, 5}}, 10));
  // Rates add up: two others at 20 ms finish 10 images in 100 ms.
  EXPECT_TRUE(leave_to_others(100, {{20, 0}, {20, 0}}, 10));
  EXPECT_FALSE(leave_to_others(99, {{20, 0}, {20, 0}}, 10));
  // The last worker never leaves; an unknown pace, mine or another's, leaves nothing.
  EXPECT_FALSE(leave_to_others(1e9, {}, 1));
  EXPECT_FALSE(leave_to_others(0, {{10, 0}}, 1));
  EXPECT_FALSE(leave_to_others(1e9, {{10, 0}, {0, 0}}, 1));
}

// Takes a fixed time per image.
class PacedWorker final : public Worker {
 public:
  PacedWorker(std::string name, std::chrono::milliseconds per_image) : name_(std::move(name)), per_image_(per_image) {}
  wire::Record process(const ImageFile& job) override {
    std::this_thread::sleep_for(per_image_);
    wire::Record r;
    r.image = job.image;
    r.target = name_;
    r.ok = true;
    return r;
  }

 private:
  std::string name_;
  std::chrono::milliseconds per_image_;
};

std::map<std::string, int> images_per_target(double slow_expected_ms) {
  std::vector<ImageFile> jobs;
  for (int i = 0; i < 20; ++i) jobs.push_back({"", "image" + std::to_string(i)});
  std::vector<WorkerSlot> workers;
  workers.push_back({"fast", std::make_unique<PacedWorker>("fast", std::chrono::milliseconds(5)), 5});
  workers.push_back({"slow", std::make_unique<PacedWorker>("slow", std::chrono::milliseconds(2000)), slow_expected_ms});
  std::map<std::string, int> taken;
  const RunStats stats = process_images(jobs, workers, {"c", "hybrid", ""}, nullptr, {},
                                        [&](const wire::Record& r) { ++taken[r.target]; });
  EXPECT_EQ(stats.sent, jobs.size());
  return taken;
}

TEST(ProcessImages, ASlowWorkerLeavesTheImagesItWouldFinishLast) {
  // Expected at 2 s per image against 20 of 5 ms: the slow worker takes none.
  std::map<std::string, int> taken = images_per_target(2000);
  EXPECT_EQ(taken["slow"], 0);
  EXPECT_EQ(taken["fast"], 20);
  // Its pace unknown, it takes one before it knows better, and no second.
  taken = images_per_target(0);
  EXPECT_EQ(taken["slow"], 1);
  EXPECT_EQ(taken["fast"], 19);
}

}  // namespace
}  // namespace lookout::client
