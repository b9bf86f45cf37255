// The shared queue's hand-out rule (client::leave_to_others) and a run
// that follows it. The run's workers here are stand-ins of known pace: what
// is under test is who takes which image, not detection (the lab tests run
// the rule with real detectors and servers).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "client/run.h"
#include "temp_dir.h"

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

// Takes a fixed time per image, plus a time per kB of the file when given
// (a link).
class PacedWorker final : public Worker {
 public:
  PacedWorker(std::string name, std::chrono::milliseconds per_image, std::chrono::microseconds per_kb = {})
      : name_(std::move(name)), per_image_(per_image), per_kb_(per_kb) {}
  wire::Record process(const ImageFile& job) override {
    std::error_code ec;
    const auto kb = static_cast<int64_t>(std::filesystem::file_size(job.path, ec) / 1000);
    std::this_thread::sleep_for(per_image_ + (ec ? 0 : kb) * per_kb_);
    wire::Record r;
    r.image = job.image;
    r.target = name_;
    r.ok = true;
    return r;
  }

 private:
  std::string name_;
  std::chrono::milliseconds per_image_;
  std::chrono::microseconds per_kb_;
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

// A link that takes 1 ms per kB: it takes small files while the fast
// worker is busy, and leaves it the 2 MB one at the end (2 s there against
// 5 ms here), since it judges each image by its bytes.
TEST(ProcessImages, ALinkJudgesTheImageAtHandByItsBytes) {
  lookout::testing::TempDir tmp;
  std::vector<ImageFile> jobs;
  for (int i = 0; i < 12; ++i) {
    const std::filesystem::path file = tmp.path() / ("image" + std::to_string(i));
    std::ofstream(file) << std::string(i == 11 ? 2000000 : 10000, 'x');
    jobs.push_back({file, file.filename().string()});
  }
  std::vector<WorkerSlot> workers;
  workers.push_back({"fast", std::make_unique<PacedWorker>("fast", std::chrono::milliseconds(5)), 5});
  workers.push_back({"link", std::make_unique<PacedWorker>("link", std::chrono::milliseconds(1), std::chrono::milliseconds(1)),
                     1, 0.001});
  std::map<std::string, std::string> taken_by;
  std::map<std::string, int> per_target;
  process_images(jobs, workers, {"c", "hybrid", ""}, nullptr, {}, [&](const wire::Record& r) {
    taken_by[r.image] = r.target;
    ++per_target[r.target];
  });
  EXPECT_EQ(taken_by.size(), jobs.size());
  EXPECT_EQ(taken_by["image11"], "fast");
  EXPECT_GT(per_target["link"], 0) << "the link took none of the small files";
}

}  // namespace
}  // namespace lookout::client
