// The results record of `lookout run` against its golden file, and the
// reader's leniency and refusals (README "Results file").
#include <gtest/gtest.h>

#include "wire/golden.h"
#include "wire/record.h"

namespace lookout::wire {
namespace {

using lookout::wire::testing::golden_lines;

Record read(const std::string& line) { return Json::parse(line).get<Record>(); }

TEST(Record, GoldenReadsIntoTheTypeAndWritesBackByteForByte) {
  const std::vector<std::string> lines = golden_lines("record.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  const Record hybrid = read(lines[0]);
  EXPECT_EQ(dump(Json(hybrid)), lines[0]);
  EXPECT_EQ(hybrid.image, "a/dog.jpg");
  EXPECT_EQ(hybrid.schedule, "hybrid");
  EXPECT_EQ(hybrid.label, "10 Mbit/s, 40 ms RTT");
  EXPECT_TRUE(hybrid.ok);
  EXPECT_EQ(hybrid.bytes_sent, 41210u);
  EXPECT_EQ(hybrid.timing, (RecordTimes{33.125, 0.034, 2.236, 4.413, 5.807, 0.007, 52.5, 52.5, 0}));
  ASSERT_EQ(hybrid.detections.size(), 1u);
  EXPECT_EQ(hybrid.detections[0].box.ymax, 0.9421174f);
  EXPECT_FALSE(hybrid.detections[0].box_px.has_value());
  EXPECT_EQ(hybrid.attempts, 2);
  EXPECT_TRUE(hybrid.resized());

  const Record broken = read(lines[1]);
  EXPECT_EQ(dump(Json(broken)), lines[1]);
  EXPECT_FALSE(broken.ok);
  EXPECT_TRUE(broken.permanent);
  EXPECT_TRUE(broken.done());
  EXPECT_EQ(broken.error, "truncated JPEG");
}

TEST(Record, DownscalingTimeIsWrittenOnlyWhereThereWasAny) {
  Record r = read(golden_lines("record.jsonl")[0]);
  EXPECT_EQ(Json(r)["timing_ms"].count("prepare"), 0u);
  r.timing.prepare = 3.25;
  const Json written = Json(r);
  EXPECT_EQ(written["timing_ms"]["prepare"], 3.25);
  EXPECT_EQ(read(dump(written)).timing.prepare, 3.25);
}

TEST(Record, PixelBoxesAreNotWrittenIntoRecords) {
  Record r = read(golden_lines("record.jsonl").at(0));
  const std::string without = dump(Json(r));
  r.detections[0].box_px = Box{1, 2, 3, 4};
  EXPECT_EQ(dump(Json(r)), without);
}

TEST(Record, MissingOptionalFieldsReadAsEmpty) {
  const Record r =
      read(R"({"image":"a.jpg","target":"local","ok":false,"error":"bad JPEG","status":-5,"some_future_field":1})");
  EXPECT_EQ(r.collection, "");
  EXPECT_EQ(r.label, "");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "bad JPEG");
  EXPECT_EQ(r.status, 0) << "a negative status is not one";
  EXPECT_EQ(r.bytes_sent, 0u);
  EXPECT_EQ(r.timing.total, 0.0);
  EXPECT_TRUE(r.detections.empty());
}

TEST(Record, AbsurdCountsReadAsZero) {
  const Record r = read(
      R"({"image":"a.jpg","target":"local","ok":true,"timing_ms":{},"file_bytes":1e300,"width":-1,"attempts":"3"})");
  EXPECT_EQ(r.file_bytes, 0u);
  EXPECT_EQ(r.width, 0);
  EXPECT_EQ(r.attempts, 0);
}

TEST(Record, ResizedMeansARemoteUploadSmallerThanTheFile) {
  Record r = read(golden_lines("record.jsonl").at(0));
  r.target = "local";
  EXPECT_FALSE(r.resized()) << "local images are never uploaded";
  r.target = "http://h:5029";
  EXPECT_TRUE(r.resized());
  r.bytes_sent = r.file_bytes;
  EXPECT_FALSE(r.resized());
}

TEST(Record, RefusesMalformedRecordsWithTheReason) {
  const auto reason = [](const std::string& line) {
    try {
      read(line);
    } catch (const FormatError& e) {
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

}  // namespace
}  // namespace lookout::wire
