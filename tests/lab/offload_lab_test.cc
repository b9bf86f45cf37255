// `lookout offload` against the reproducible remote (scripts/remote-lab.sh):
// the real server in its own network namespace on the last CPU, the link
// shaped by tc and delayed, the client pinned to CPU 0. The cost model's
// predictions must hold against the runs that follow them, at a slow and a
// fast link, and the hybrid schedule must beat both sides when they are
// comparable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "lab_util.h"
#include "remote_lab.h"
#include "wire/offload.h"

namespace lookout::lab_test {
namespace {

using json = nlohmann::json;
using wire::OffloadSummary;

struct Offload {
  CommandResult result;
  std::optional<OffloadSummary> summary;  // offload.json, read as `lookout report` reads it
  std::string read_error;
};

// `lookout offload DIR --remote URL` on CPU 0 with one detector and one
// request in flight, so each side has one CPU of its own.
Offload offload(const std::string& dir, const std::string& url, const fs::path& out) {
  Offload o;
  o.result = run_command("cd " + shell_quote(kRoot.string()) + " && taskset -c 0 " + shell_quote(LOOKOUT_BINARY) +
                         " offload " + shell_quote(dir) + " --remote " + url + " --out " + shell_quote(out.string()) +
                         " --local-workers 1 --concurrency 1 --quiet 2>&1");
  std::error_code ec;
  if (!fs::exists(out / "offload.json", ec)) return o;
  try {
    o.summary = wire::Json::parse(read_file(out / "offload.json")).get<OffloadSummary>();
  } catch (const std::exception& e) {
    o.read_error = e.what();
  }
  return o;
}

double relative_error(double predicted, double measured) { return std::abs(predicted - measured) / measured; }

class OffloadLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

// Where a prediction misses its measurement by more than 15 %: one line
// per miss, empty when all hold.
std::string prediction_misses(const OffloadSummary& s) {
  if (!s.measured) return "no validation runs in offload.json\n";
  std::string misses;
  const auto check = [&](const char* side, double predicted, double measured_ms) {
    if (relative_error(predicted, measured_ms) > 0.15)
      misses += std::string(side) + ": predicted " + std::to_string(predicted) + " ms, measured " +
                std::to_string(measured_ms) + " ms\n";
  };
  check("remote", s.remote.ms_per_image, s.measured->remote_ms_per_image);
  check("local", s.local.ms_per_image, s.measured->local_ms_per_image);
  return misses;
}

TEST_F(OffloadLab, PredictionsHoldAtASlowAndAFastLink) {
  RemoteLab lab("10mbit", "40ms");
  TempDir tmp;
  // Three copies of the photos: each run's mean then spans a few seconds,
  // not the third of a second one copy takes locally, over which this
  // machine's speed can sit 30-40 % off its mean.
  const fs::path dir = tmp.path() / "small3";
  const size_t images = make_small_copies(dir, 3);
  struct Setting {
    const char* rate;
    const char* rtt;
    double mbps, rtt_ms;
  };
  for (const Setting& s : {Setting{"10mbit", "40ms", 10, 40}, Setting{"200mbit", "2ms", 200, 2}}) {
    SCOPED_TRACE(std::string(s.rate) + " / " + s.rtt);
    lab.set(s.rate, s.rtt);
    // A shared machine's speed drifts by 30-40 % from one second to the
    // next, more than the model's error. So a setting gets up to three
    // attempts and must hold within 15 % in one of them: a model that is off
    // by more than that misses every time, noise rarely three times in a row.
    std::string misses;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      const fs::path out = tmp.path() / (std::string(s.rate) + "-" + std::to_string(attempt));
      const Offload o = offload(dir.string(), lab.url(), out);
      ASSERT_EQ(o.result.status, 0) << o.result.out << lab.status();
      ASSERT_TRUE(o.summary.has_value()) << o.read_error << "\n" << o.result.out;
      EXPECT_NE(o.result.out.find("verdict: "), std::string::npos) << o.result.out;

      // The link as measured is the link as shaped (generous: tc's framing
      // overhead and a shared machine).
      const OffloadSummary::Remote& remote = o.summary->remote;
      EXPECT_NEAR(remote.bandwidth_mbps, s.mbps, 0.3 * s.mbps) << o.result.out;
      EXPECT_NEAR(remote.rtt_ms, s.rtt_ms, 5.0 + 0.25 * s.rtt_ms) << o.result.out;
      ASSERT_TRUE(o.summary->measured.has_value()) << o.result.out;
      EXPECT_TRUE(o.summary->measured->agrees_with_verdict) << o.result.out;

      // The results files are there for `lookout report`, one record per image each.
      for (const char* f : {"local.jsonl", "hybrid.jsonl", "remote.jsonl", "local-again.jsonl"})
        EXPECT_EQ(records(out / f).size(), images) << f;
      // The runs over the link carry it as their label, for a report over both settings.
      EXPECT_EQ(records(out / "local.jsonl").front().label, "");
      // The local run repeated at the end is labelled apart, and summed up.
      EXPECT_EQ(records(out / "local-again.jsonl").front().label, "again");
      EXPECT_GT(o.summary->measured->local_again_ms_per_image, 0.0) << o.result.out;
      EXPECT_NE(o.result.out.find("measured again after the other runs"), std::string::npos) << o.result.out;
      // What the model was fitted on: every local try (at least --rounds 3
      // passes of the --sample 16), one record per remote image.
      EXPECT_GE(records(out / "sample" / "local.jsonl").size(), 3 * std::min<size_t>(images, 16)) << o.result.out;
      EXPECT_EQ(records(out / "sample" / "remote.jsonl").size(), std::min<size_t>(images, 16)) << o.result.out;
      EXPECT_FALSE(records(out / "sample" / "beside.jsonl").empty()) << o.result.out;
      EXPECT_THAT(records(out / "remote.jsonl").front().label, ::testing::MatchesRegex(".* Mbit/s, .* ms RTT"));

      // Predicted vs measured per-image time, each side, within 15 %.
      const std::string miss = prediction_misses(*o.summary);
      if (miss.empty()) {
        if (attempt > 1) std::printf("held on attempt %d; before:\n%s", attempt, misses.c_str());
        misses.clear();
        break;
      }
      misses += "attempt " + std::to_string(attempt) + ":\n" + miss + o.result.out + "\n";
    }
    EXPECT_TRUE(misses.empty()) << misses;
  }
}

TEST_F(OffloadLab, HybridBeatsEitherSideWhenBothAreComparable) {
  // A fast link: the remote's one CPU and this side's one CPU take about the
  // same time per image. Four copies of the photos make the runs long enough
  // to compare.
  RemoteLab lab("1gbit", "1ms");
  TempDir tmp;
  const fs::path dir = tmp.path() / "small4";
  make_small_copies(dir, 4);
  const Offload o = offload(dir.string(), lab.url(), tmp.path() / "out");
  ASSERT_EQ(o.result.status, 0) << o.result.out << lab.status();
  ASSERT_TRUE(o.summary.has_value()) << o.read_error << "\n" << o.result.out;
  ASSERT_TRUE(o.summary->measured.has_value()) << o.result.out;
  const OffloadSummary::Measured& m = *o.summary->measured;
  const double local = m.local_wall_s, remote = m.remote_wall_s, hybrid = m.hybrid_wall_s;
  // Comparable: neither side more than 3x the other (else hybrid cannot gain much).
  ASSERT_LT(std::max(local, remote) / std::min(local, remote), 3.0) << o.result.out;
  EXPECT_LT(hybrid, 0.85 * std::min(local, remote))
      << "hybrid " << hybrid << " s, local " << local << " s, remote " << remote << " s\n" << o.result.out;
  const OffloadSummary::Hybrid& h = o.summary->hybrid;
  EXPECT_GT(h.local_images.value_or(0), 0u);
  EXPECT_GT(h.remote_images.value_or(0), 0u);
}

}  // namespace
}  // namespace lookout::lab_test
