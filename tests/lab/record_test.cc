// The results file: what a crash, a kill -9 or a transient failure leaves
// behind, and how a rerun picks up from there.
#include <gtest/gtest.h>

#include <fstream>

#include "client/record.h"
#include "temp_dir.h"

namespace lookout::client {
namespace {

namespace fs = std::filesystem;

Record make(const std::string& image, bool ok, bool permanent = false) {
  Record r;
  r.image = image;
  r.collection = "c";
  r.target = "local";
  r.ok = ok;
  r.status = ok ? 200 : (permanent ? 400 : 0);
  r.error = ok ? "" : "boom";
  r.permanent = permanent;
  r.timing.inference = 12.5;
  r.detections.push_back({17, "dog", 0.9, 0.1, 0.2, 0.3, 0.4});
  return r;
}

std::string line(const Record& r) { return to_json(r).dump() + "\n"; }

TEST(RecordJson, RoundTripsEveryField) {
  Record r = make("a/b.jpg", true);
  r.bytes_sent = 100;
  r.file_bytes = 200;
  r.response_bytes = 30;
  r.width = 640;
  r.height = 480;
  r.timing = {1.5, 2, 3, 4, 5, 6, 7, 8};
  r.attempts = 3;
  r.label = "10 Mbit/s, 40 ms RTT";
  r.finished_at = utc_now();
  const Record back = record_from_json(nlohmann::json::parse(to_json(r).dump()));
  EXPECT_EQ(to_json(back), to_json(r));
  EXPECT_EQ(back.detections.at(0).label, "dog");
  EXPECT_EQ(r.finished_at.size(), 24u) << r.finished_at;
}

TEST(RecordJson, MissingOptionalFieldsReadAsEmpty) {
  const Record r = record_from_json(
      nlohmann::json::parse(R"({"image":"a.jpg","target":"local","ok":false,"error":"bad JPEG","status":-5,"some_future_field":1})"));
  EXPECT_EQ(r.collection, "");
  EXPECT_EQ(r.label, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "bad JPEG");
  EXPECT_EQ(r.status, 0) << "a negative status is not one";
  EXPECT_EQ(r.bytes_sent, 0u);
  EXPECT_EQ(r.timing.total, 0.0);
  EXPECT_TRUE(r.detections.empty());
}

TEST(RecordJson, ResizedMeansARemoteUploadSmallerThanTheFile) {
  Record r = make("a.jpg", true);
  r.file_bytes = 9000;
  r.bytes_sent = 3000;
  EXPECT_FALSE(r.resized()) << "local images are never uploaded";
  r.target = "http://h:5029";
  EXPECT_TRUE(r.resized());
  r.bytes_sent = 9000;
  EXPECT_FALSE(r.resized());
}

TEST(RecordJson, RefusesMalformedRecordsWithTheReason) {
  const auto reason = [](const std::string& line) {
    try {
      record_from_json(nlohmann::json::parse(line));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(reason("[1,2]"), "not a JSON object");
  EXPECT_EQ(reason(R"({"target":"local","ok":true,"timing_ms":{}})"), "no \"image\" string");
  EXPECT_EQ(reason(R"({"image":"a","ok":true,"timing_ms":{}})"), "no \"target\" string");
  EXPECT_EQ(reason(R"({"image":"a","target":"","ok":true,"timing_ms":{}})"), "no \"target\" string");
  EXPECT_EQ(reason(R"({"image":"a","target":"local","ok":"yes"})"), "no \"ok\" true/false");
  EXPECT_EQ(reason(R"({"image":"a","target":"local","ok":true})"), "a successful record without \"timing_ms\"");
  EXPECT_EQ(reason(R"({"image":"a","target":"local","ok":false})"), "(accepted)");
}

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
  const std::vector<Record> all = read_records(file, &warnings);
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

TEST(ResultsFile, UnwritablePlaceIsAClearError) {
  EXPECT_THROW(ResultsFile("/proc/no/such/results.jsonl"), std::runtime_error);
}

}  // namespace
}  // namespace lookout::client
