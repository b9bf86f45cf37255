// map.json (src/wire/map.h): a hand-written file read into the struct and
// written back byte for byte; a broken cell named with its index and field.
#include "wire/map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "golden.h"

namespace {

using lookout::wire::testing::read_golden;
using lookout::wire::FormatError;
using lookout::wire::MapFile;
using json = lookout::wire::Json;

TEST(MapFile, ReadsAndWritesBackByteForByte) {
  const std::string text = read_golden("map.json");
  const MapFile m = json::parse(text).get<MapFile>();
  EXPECT_EQ(m.collection, "small");
  EXPECT_EQ(m.images, 33u);
  ASSERT_EQ(m.cells.size(), 1u);
  const MapFile::Cell& c = m.cells[0];
  EXPECT_DOUBLE_EQ(c.pair.local_cpu, 0.25);
  EXPECT_DOUBLE_EQ(c.bandwidth_mbps, 100);
  EXPECT_FALSE(c.resize_before_upload);
  EXPECT_DOUBLE_EQ(c.offload.local.ms_per_image, 41.2);
  ASSERT_TRUE(c.offload.measured.has_value());
  EXPECT_DOUBLE_EQ(c.offload.measured->hybrid_wall_s, 0.75);
  EXPECT_EQ(c.key(), "local 0.25 / remote 1 cpu, 100 Mbit/s, 20 ms RTT");
  EXPECT_EQ(lookout::wire::map_text(m), text);
  EXPECT_TRUE(lookout::wire::looks_like_map(json::parse(text)));
}

TEST(MapFile, KeySaysEverySetting) {
  MapFile::Cell c;
  c.pair = {1, 0.5};
  c.bandwidth_mbps = 1000;
  c.rtt_ms = 2;
  c.resize_before_upload = true;
  EXPECT_EQ(c.key(), "local 1 / remote 0.5 cpu, 1000 Mbit/s, 2 ms RTT, resized");
}

TEST(MapFile, BrokenCellIsNamedWithItsIndexAndField) {
  json doc = json::parse(read_golden("map.json"));
  doc["cells"][0]["offload"]["remote"].erase("rtt_ms");
  try {
    (void)doc.get<MapFile>();
    FAIL() << "a cell without its remote RTT was read";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("\"cells\"[0]"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("\"offload\""));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("rtt_ms"));
  }
  doc = json::parse(read_golden("map.json"));
  doc["cells"][0]["pair"]["local_cpu"] = 0;
  EXPECT_THROW((void)doc.get<MapFile>(), FormatError);
  doc = json::parse(read_golden("map.json"));
  doc["version"] = 2;
  EXPECT_THROW((void)doc.get<MapFile>(), FormatError);
}

}  // namespace
