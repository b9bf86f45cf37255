// offload.json (src/wire/offload.h): hand-written files in
// tests/wire/golden/ read into the struct and written back byte for byte;
// a missing or mistyped field named, with the fields it sits in.
#include "wire/offload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "golden.h"


namespace {

using lookout::wire::testing::read_golden;
using lookout::wire::FormatError;
using lookout::wire::OffloadSummary;
using json = lookout::wire::Json;

TEST(OffloadFile, ValidatedRunReadsAndWritesBackByteForByte) {
  const std::string text = read_golden("offload.json");
  const OffloadSummary s = json::parse(text).get<OffloadSummary>();
  EXPECT_EQ(s.collection, "small");
  EXPECT_EQ(s.images, 33u);
  EXPECT_DOUBLE_EQ(s.local.ms_per_image, 24.129);
  EXPECT_EQ(s.local.workers, 2);
  EXPECT_EQ(s.remote.url, "http://10.77.0.2:5029");
  EXPECT_DOUBLE_EQ(s.remote.bandwidth_mbps, 9.87654321);
  EXPECT_EQ(s.remote.server_workers, 1);
  EXPECT_DOUBLE_EQ(s.model.fixed_ms, 61.666);
  EXPECT_FALSE(s.break_even.bandwidth_mbps.has_value());
  EXPECT_FALSE(s.break_even.rtt_ms.has_value());
  ASSERT_TRUE(s.hybrid.measured_s.has_value());
  EXPECT_EQ(*s.hybrid.local_images, 31u);
  ASSERT_EQ(s.runs.size(), 1u);
  EXPECT_EQ(s.runs[0].label, "remote 9.88 Mbit/s, 40.1 ms RTT");
  EXPECT_DOUBLE_EQ(s.runs[0].ms_per_image, 188.5);
  ASSERT_TRUE(s.measured.has_value());
  EXPECT_TRUE(s.measured->agrees_with_verdict);
  EXPECT_DOUBLE_EQ(s.measured->remote_wall_s, 6.2205);
  EXPECT_DOUBLE_EQ(s.measured->local_again_ms_per_image, 24.871);
  EXPECT_EQ(lookout::wire::offload_text(s), text);
}

TEST(OffloadFile, AFileFromBeforeTheRepeatedLocalRunStillReads) {
  json doc = json::parse(read_golden("offload.json"));
  doc["measured"].erase("local_again_ms_per_image");
  const OffloadSummary s = doc.get<OffloadSummary>();
  ASSERT_TRUE(s.measured.has_value());
  EXPECT_EQ(s.measured->local_again_ms_per_image, 0.0);
  // Written back as it was read: without the field.
  EXPECT_EQ(json::parse(lookout::wire::offload_text(s)), doc);
}

TEST(OffloadFile, UnvalidatedRunLeavesTheMeasuredPartsOut) {
  const std::string text = read_golden("offload-no-validate.json");
  const OffloadSummary s = json::parse(text).get<OffloadSummary>();
  EXPECT_DOUBLE_EQ(*s.break_even.bandwidth_mbps, 5.151531291611185);
  EXPECT_DOUBLE_EQ(*s.break_even.rtt_ms, 190.578);
  EXPECT_DOUBLE_EQ(s.remote.overhead_ms, -0.25);
  EXPECT_FALSE(s.hybrid.measured_s.has_value());
  EXPECT_FALSE(s.hybrid.local_images.has_value());
  EXPECT_TRUE(s.runs.empty());
  EXPECT_FALSE(s.measured.has_value());
  EXPECT_EQ(lookout::wire::offload_text(s), text);
}

TEST(OffloadFile, DurationsAreWrittenToTheMicrosecond) {
  OffloadSummary s;
  s.local.ms_per_image = 24.129363624999996;
  s.remote.rtt_ms = 0.04007;
  s.remote.bandwidth_mbps = 1887.759056741315;  // a rate: as computed
  s.break_even.rtt_ms = 1.9004654742799831;
  s.hybrid.predicted_s = 0.26542299987499995;
  s.hybrid.measured_s = 0.806167663;
  const json j = json::parse(lookout::wire::offload_text(s));
  EXPECT_EQ(j["local"]["ms_per_image"].dump(), "24.129");
  EXPECT_EQ(j["remote"]["rtt_ms"].dump(), "0.04");
  EXPECT_EQ(j["remote"]["bandwidth_mbps"].dump(), "1887.759056741315");
  EXPECT_EQ(j["break_even"]["rtt_ms"].dump(), "1.9");
  EXPECT_TRUE(j["break_even"]["bandwidth_mbps"].is_null());
  EXPECT_EQ(j["hybrid"]["predicted_s"].dump(), "0.265423");
  EXPECT_EQ(j["hybrid"]["measured_s"].dump(), "0.806168");
  EXPECT_FALSE(j.contains("measured"));
}

// The error `doc` raises when read, or "" when it reads.
std::string read_error(const json& doc) {
  try {
    (void)doc.get<OffloadSummary>();
    return "";
  } catch (const FormatError& e) {
    return e.what();
  }
}

TEST(OffloadFile, AMissingOrMistypedFieldIsNamed) {
  const json good = json::parse(read_golden("offload.json"));
  ASSERT_EQ(read_error(good), "");

  json doc = good;
  doc["remote"]["bandwidth_mbps"] = "fast";
  EXPECT_EQ(read_error(doc), R"("remote": "bandwidth_mbps" must be a number, not string)");

  doc = good;
  doc["runs"][0].erase("label");
  EXPECT_EQ(read_error(doc), R"("runs": "label" is missing)");

  doc = good;
  doc.erase("model");
  EXPECT_EQ(read_error(doc), R"("model" is missing)");

  doc = good;
  doc["images"] = -3;
  EXPECT_EQ(read_error(doc), R"("images" must be a whole number in range, not -3)");

  doc = good;
  doc["local"]["workers"] = 2.5;
  EXPECT_EQ(read_error(doc), R"("local": "workers" must be a whole number in range, not 2.5)");

  doc = good;
  doc["hybrid"] = nullptr;  // null is absent
  EXPECT_EQ(read_error(doc), R"("hybrid" is missing)");

  doc = good;
  doc["measured"]["agrees_with_verdict"] = 1;
  EXPECT_EQ(read_error(doc), R"("measured": "agrees_with_verdict" must be true or false, not number)");

  doc = good;
  doc["break_even"]["rtt_ms"] = json::array();
  EXPECT_EQ(read_error(doc), R"("break_even": "rtt_ms" must be a number, not array)");

  EXPECT_EQ(read_error(json::array()), "an offload summary must be a JSON object, not array");
}

TEST(OffloadFile, RecognizedByItsModelOrVerdict) {
  EXPECT_TRUE(lookout::wire::looks_like_offload(json::parse(read_golden("offload.json"))));
  EXPECT_TRUE(lookout::wire::looks_like_offload(json{{"verdict", "Run locally."}}));
  EXPECT_FALSE(lookout::wire::looks_like_offload(json{{"image", "a.jpg"}, {"target", "local"}, {"ok", true}}));
  EXPECT_FALSE(lookout::wire::looks_like_offload(json::array()));
}

}  // namespace
