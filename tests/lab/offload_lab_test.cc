// `lookout offload` against the reproducible remote (scripts/remote-lab.sh):
// the real server in its own network namespace on the last CPU, the link
// shaped by tc and delayed, the client pinned to CPU 0. The cost model's
// predictions must hold against the runs that follow them, at a slow and a
// fast link, and the hybrid schedule must beat both sides when they are
// comparable.
#include <gtest/gtest.h>

#include <cmath>

#include "lab_util.h"
#include "remote_lab.h"

namespace lookout::lab_test {
namespace {

using json = nlohmann::json;

struct Offload {
  CommandResult result;
  json doc;
};

// `lookout offload DIR --remote URL` on CPU 0 with one detector and one
// request in flight, so each side has one CPU of its own.
Offload offload(const std::string& dir, const std::string& url, const fs::path& out) {
  Offload o;
  o.result = run_command("cd " + shell_quote(kRoot.string()) + " && taskset -c 0 " + shell_quote(LOOKOUT_BINARY) +
                         " offload " + shell_quote(dir) + " --remote " + url + " --out " + shell_quote(out.string()) +
                         " --local-workers 1 --concurrency 1 --quiet 2>&1");
  std::error_code ec;
  if (fs::exists(out / "offload.json", ec)) o.doc = json::parse(read_file(out / "offload.json"));
  return o;
}

double relative_error(double predicted, double measured) { return std::abs(predicted - measured) / measured; }

class OffloadLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(OffloadLab, PredictionsHoldAtASlowAndAFastLink) {
  RemoteLab lab("10mbit", "40ms");
  TempDir tmp;
  struct Setting {
    const char* rate;
    const char* rtt;
    double mbps, rtt_ms;
  };
  for (const Setting& s : {Setting{"10mbit", "40ms", 10, 40}, Setting{"200mbit", "2ms", 200, 2}}) {
    SCOPED_TRACE(std::string(s.rate) + " / " + s.rtt);
    lab.set(s.rate, s.rtt);
    const fs::path out = tmp.path() / s.rate;
    const Offload o = offload("data/small", lab.url(), out);
    ASSERT_EQ(o.result.status, 0) << o.result.out << lab.status();
    ASSERT_TRUE(o.doc.is_object()) << o.result.out;
    EXPECT_NE(o.result.out.find("verdict: "), std::string::npos) << o.result.out;

    // The link as measured is the link as shaped (generous: tc's framing
    // overhead and a shared machine).
    const json& remote = o.doc["remote"];
    EXPECT_NEAR(remote["bandwidth_mbps"].get<double>(), s.mbps, 0.3 * s.mbps) << o.result.out;
    EXPECT_NEAR(remote["rtt_ms"].get<double>(), s.rtt_ms, 5.0 + 0.25 * s.rtt_ms) << o.result.out;

    // Predicted vs measured per-image time, each side, within 15 %.
    const json& measured = o.doc["measured"];
    const double remote_predicted = remote["ms_per_image"].get<double>();
    const double remote_measured = measured["remote_ms_per_image"].get<double>();
    const double local_predicted = o.doc["local"]["ms_per_image"].get<double>();
    const double local_measured = measured["local_ms_per_image"].get<double>();
    EXPECT_LE(relative_error(remote_predicted, remote_measured), 0.15)
        << "remote: predicted " << remote_predicted << " ms, measured " << remote_measured << " ms\n" << o.result.out;
    EXPECT_LE(relative_error(local_predicted, local_measured), 0.15)
        << "local: predicted " << local_predicted << " ms, measured " << local_measured << " ms\n" << o.result.out;
    EXPECT_TRUE(measured["agrees_with_verdict"].get<bool>()) << o.result.out;

    // The results files are there for `lookout report`, one record per image each.
    for (const char* f : {"local.jsonl", "remote.jsonl", "hybrid.jsonl"})
      EXPECT_EQ(records(out / f).size(), small_collection_size()) << f;
  }
}

TEST_F(OffloadLab, HybridBeatsEitherSideWhenBothAreComparable) {
  // A fast link: the remote's one CPU and this side's one CPU take about the
  // same time per image. Four copies of the photos make the runs long enough
  // to compare.
  RemoteLab lab("1gbit", "1ms");
  TempDir tmp;
  const fs::path dir = tmp.path() / "small4";
  for (int copy = 0; copy < 4; ++copy) {
    fs::create_directories(dir / std::to_string(copy));
    for (const auto& e : fs::directory_iterator(kPhotos))
      if (e.is_regular_file() && e.path().extension() == ".jpg")
        fs::create_symlink(fs::absolute(e.path()), dir / std::to_string(copy) / e.path().filename());
  }
  const Offload o = offload(dir.string(), lab.url(), tmp.path() / "out");
  ASSERT_EQ(o.result.status, 0) << o.result.out << lab.status();
  const json& m = o.doc["measured"];
  const double local = m["local_wall_s"].get<double>(), remote = m["remote_wall_s"].get<double>(),
               hybrid = m["hybrid_wall_s"].get<double>();
  // Comparable: neither side more than 3x the other (else hybrid cannot gain much).
  ASSERT_LT(std::max(local, remote) / std::min(local, remote), 3.0) << o.result.out;
  EXPECT_LT(hybrid, 0.85 * std::min(local, remote))
      << "hybrid " << hybrid << " s, local " << local << " s, remote " << remote << " s\n" << o.result.out;
  const json& h = o.doc["hybrid"];
  EXPECT_GT(h["local_images"].get<int>(), 0);
  EXPECT_GT(h["remote_images"].get<int>(), 0);
}

}  // namespace
}  // namespace lookout::lab_test
