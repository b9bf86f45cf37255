// The results file: what a crash, a kill -9 or a transient failure leaves
// behind, and how a rerun picks up from there.
#include <gtest/gtest.h>

#include <fstream>

#include "client/record.h"
#include "temp_dir.h"

namespace lookout::client {
namespace {

namespace fs = std::filesystem;

wire::Record make(const std::string& image, bool ok, bool permanent = false) {
  wire::Record r;
  r.image = image;
  r.collection = "c";
  r.target = "local";
  r.ok = ok;
  r.status = ok ? 200 : (permanent ? 400 : 0);
  r.error = ok ? "" : "boom";
  r.permanent = permanent;
  r.timing.inference = 12.5;
  r.detections.push_back({17, "dog", 0.9f, {0.1f, 0.2f, 0.3f, 0.4f}, std::nullopt});
  return r;
}

std::string line(const wire::Record& r) { return wire::dump(wire::Json(r)) + "\n"; }

TEST(ResultsFile, KeepsDoneDropsTransientFailuresAndATornLine) {
  lookout::testing::TempDir tmp;
  const fs::path file = tmp.path() / "r.jsonl";
  {
    std::ofstream out(file);
    out << line(make("ok.jpg", true)) << line(make("bad.jpg", false, true)) << line(make("later.jpg", false))
        << line(make("ok.jpg", true)) << "{\"image\":\"torn.jpg\",\"ok\":tr";
  }
  ResultsFile results(file);
  EXPECT_TRUE(results.is_done("c", "ok.jpg"));
  EXPECT_TRUE(results.is_done("c", "bad.jpg"));  // failed for good
  EXPECT_FALSE(results.is_done("c", "later.jpg"));
  EXPECT_FALSE(results.is_done("c", "torn.jpg"));
  EXPECT_FALSE(results.is_done("other", "ok.jpg"));
  EXPECT_EQ(results.previous().size(), 2u);
  EXPECT_EQ(results.dropped(), 3u);  // the transient failure, the duplicate, the torn line
  results.append(make("later.jpg", true));
  std::vector<std::string> warnings;
  const std::vector<wire::Record> all = read_records(file, &warnings);
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].image, "ok.jpg");
  EXPECT_EQ(all[1].image, "bad.jpg");
  EXPECT_EQ(all[2].image, "later.jpg");
}

TEST(ResultsFile, ForeignLinesAreReportedWithTheirLineNumber) {
  lookout::testing::TempDir tmp;
  const fs::path file = tmp.path() / "r.jsonl";
  std::ofstream(file) << line(make("a.jpg", true)) << "not json\n" << "{\"x\":1}\n";
  std::vector<std::string> warnings;
  EXPECT_EQ(read_records(file, &warnings).size(), 1u);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("r.jsonl:2: not JSON: "), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("r.jsonl:3: no \"image\" string"), std::string::npos) << warnings[1];
}

TEST(ResultsFile, FinishedAtIsUtcWithMilliseconds) {
  const std::string t = utc_now();
  ASSERT_EQ(t.size(), 24u) << t;
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t[19], '.');
  EXPECT_EQ(t.back(), 'Z');
}

TEST(ResultsFile, UnwritablePlaceIsAClearError) {
  EXPECT_THROW(ResultsFile("/proc/no/such/results.jsonl"), std::runtime_error);
}

}  // namespace
}  // namespace lookout::client
