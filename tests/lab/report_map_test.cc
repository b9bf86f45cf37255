// The offloading map in the report (src/offload/report_map.h): winners,
// speedups, errors, break-even boundaries, the seed experiment's setting and
// the answers in words, from tests/lab/report-golden/map.json.
//
// That file is a fixture written for this test, with realistic figures (not
// a recorded sweep): local 41.2 ms per image at 0.25 CPU and 10.6 ms at 1
// CPU, a remote with 12.1 ms of server time, the link's rate 95.3 % of what
// tc was set to, the collection's 160 kB mean request (30 kB downscaled).
// It holds cells where each of local, remote and hybrid wins; predictions
// off by more than 10 % (a remote +14.9 %, a local -13.8 %, two hybrids);
// two cells where the model picked another winner; resized cells; two
// machine pairs; three cells missing (a sweep that stopped early) and one
// without validation runs. Expected figures below are worked out by hand
// from the file's numbers.
#include "offload/report_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "offload/report_data.h"
#include "offload/report_page.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
namespace offload = lookout::offload;
using lookout::offload::MapCellResult;
using lookout::offload::MapReport;
using lookout::offload::Schedule;
using lookout::wire::MapFile;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kGolden = fs::path(LOOKOUT_SOURCE_DIR) / "tests/lab/report-golden";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

MapFile fixture() {
  MapFile map;
  lookout::wire::from_json(json::parse(read(kGolden / "map.json")), map);
  return map;
}

const MapCellResult& cell(const MapReport& m, const std::string& key) {
  for (const MapCellResult& c : m.cells)
    if (c.key == key) return c;
  throw std::runtime_error("no cell " + key);
}

TEST(ReportMap, ReadAsAReportInput) {
  const offload::ReportInput input = offload::read_inputs({kGolden / "map.json"});
  EXPECT_TRUE(input.records.empty());
  EXPECT_TRUE(input.offloads.empty());
  ASSERT_EQ(input.maps.size(), 1u);
  EXPECT_EQ(input.maps[0].source, "map.json");
  EXPECT_EQ(input.maps[0].map.cells.size(), 29u);
}

TEST(ReportMap, ABrokenMapIsAnErrorNamingTheField) {
  lookout::testing::TempDir tmp;
  json doc = json::parse(read(kGolden / "map.json"));
  doc["cells"][3]["offload"]["remote"].erase("server_ms");
  const fs::path broken = tmp.path() / "map.json";
  std::ofstream(broken) << doc.dump(2);
  try {
    offload::read_inputs({broken});
    FAIL() << "a cell without the remote's server time was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(broken.string() + ": not a map as `lookout map` writes it: "));
    EXPECT_THAT(e.what(), HasSubstr(R"("cells"[3]: "offload": "remote": "server_ms" is missing)"));
  }
}

TEST(ReportMap, WinnersSpeedupsAndErrorsPerCell) {
  const MapReport m = offload::map_report("map.json", fixture(), 0);
  ASSERT_EQ(m.cells.size(), 29u);

  // Equal machines at 1 Mbit/s: local 0.361 s against hybrid 1.371 s, remote 43.7 s.
  const MapCellResult& local = cell(m, "local 1 / remote 1 cpu, 1 Mbit/s, 2 ms RTT");
  EXPECT_EQ(local.winner, Schedule::local);
  EXPECT_EQ(local.predicted_winner, Schedule::local);
  EXPECT_DOUBLE_EQ(local.speedup, 1.0);
  EXPECT_NEAR(local.offload_speedup, 0.361 / 1.371, 1e-12);

  // The weak local at 100 Mbit/s: hybrid 0.592 s against local 1.411 s.
  const MapCellResult& hybrid = cell(m, "local 0.25 / remote 1 cpu, 100 Mbit/s, 2 ms RTT");
  EXPECT_EQ(hybrid.winner, Schedule::hybrid);
  EXPECT_NEAR(hybrid.speedup, 1.411 / 0.592, 1e-12);
  EXPECT_FALSE(hybrid.winner_missed());
  // Against the ideal split of the two sides' rates alone: 1 / (1 / 1.411 + 1 / remote's wall).
  EXPECT_NEAR(hybrid.hybrid_over_ideal,
              0.592 * (1 / 1.411 + 1 / hybrid.measured_wall_s.remote), 1e-12);
  EXPECT_GT(hybrid.hybrid_over_ideal, 1.0);
  // Its local run repeated at the cell's end: 46.861 against 42.601 ms.
  EXPECT_DOUBLE_EQ(hybrid.local_again_ms, 46.861);
  EXPECT_NEAR(hybrid.local_drift, 46.861 / 42.601 - 1, 1e-12);
  // A cell from before the repeated run has none.
  EXPECT_EQ(local.local_again_ms, 0.0);
  EXPECT_EQ(local.local_drift, 0.0);

  // Downscaled at 1000 Mbit/s: remote 0.525 s beats the hybrid's 0.545 s,
  // which the model put at 0.376 s (and so its winner): -31.0 %.
  const MapCellResult& remote = cell(m, "local 0.25 / remote 1 cpu, 1000 Mbit/s, 2 ms RTT, resized");
  EXPECT_EQ(remote.winner, Schedule::remote);
  EXPECT_EQ(remote.predicted_winner, Schedule::hybrid);
  EXPECT_TRUE(remote.winner_missed());
  EXPECT_NEAR(remote.speedup, 1.377 / 0.525, 1e-12);
  EXPECT_NEAR(remote.error.hybrid, (0.376 - 0.545) / 0.545, 1e-12);
  EXPECT_NEAR(remote.error.remote, (15.658 - 15.846) / 15.846, 1e-12);
  EXPECT_NEAR(remote.predicted_wall_s.local, 33 * 41.2 / 1000, 1e-12);
  EXPECT_NEAR(remote.predicted_wall_s.remote, 33 * 15.658 / 1000, 1e-12);

  // Downscaled at 1 Mbit/s: the model's local 1.3596 s edges its hybrid
  // 1.367 s; measured, the hybrid's 1.332 s edges local's 1.346 s.
  const MapCellResult& close = cell(m, "local 0.25 / remote 1 cpu, 1 Mbit/s, 2 ms RTT, resized");
  EXPECT_EQ(close.predicted_winner, Schedule::local);
  EXPECT_EQ(close.winner, Schedule::hybrid);

  const MapCellResult& unvalidated = cell(m, "local 1 / remote 1 cpu, 1 Mbit/s, 100 ms RTT, resized");
  EXPECT_FALSE(unvalidated.measured);
  EXPECT_FALSE(unvalidated.winner_missed());

  // Break-even: 160887 bytes over T_local - fixed = 41.2 - (2.2 + 1.1 + 12.1) ms.
  EXPECT_NEAR(*hybrid.break_even_mbps, 160887 * 8 / (25.8 * 1000), 1e-9);
  EXPECT_FALSE(cell(m, "local 0.25 / remote 1 cpu, 100 Mbit/s, 100 ms RTT").break_even_mbps.has_value());
}

TEST(ReportMap, GridMissingCellsHeatmapsAndBoundary) {
  const MapReport m = offload::map_report("map.json", fixture(), 0);
  EXPECT_EQ(m.bandwidths, (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(m.rtts, (std::vector<double>{2, 100}));
  ASSERT_EQ(m.pairs.size(), 2u);
  EXPECT_THAT(m.missing, ElementsAre("local 1 / remote 1 cpu, 1000 Mbit/s, 2 ms RTT, resized",
                                     "local 1 / remote 1 cpu, 100 Mbit/s, 100 ms RTT, resized",
                                     "local 1 / remote 1 cpu, 1000 Mbit/s, 100 ms RTT, resized"));
  ASSERT_EQ(m.heatmaps.size(), 4u);
  EXPECT_EQ(m.heatmaps[0].title, "local 0.25 / remote 1 cpu, without downscaling");
  EXPECT_EQ(m.heatmaps[1].title, "local 0.25 / remote 1 cpu, downscaled before upload");
  EXPECT_EQ(m.heatmaps[3].id, "map0-pair1-resized");
  EXPECT_EQ(m.heatmaps[0].cells.size(), 8u);
  EXPECT_EQ(m.heatmaps[3].cells.size(), 5u);  // one of them without validation runs
  // Every cell of a row has the same fitted model here, so the median is theirs.
  const auto& boundary = m.heatmaps[0].boundary;
  ASSERT_EQ(boundary.size(), 2u);
  EXPECT_EQ(boundary[0].first, 2);
  EXPECT_NEAR(*boundary[0].second, 160887 * 8 / (25.8 * 1000), 1e-9);
  EXPECT_EQ(boundary[1].first, 100);
  EXPECT_FALSE(boundary[1].second.has_value());  // 113.6 ms fixed > 41.2 ms local
}

TEST(ReportMap, TheSeedExperimentsSettingThroughTheEqualMachinesModel) {
  const MapReport m = offload::map_report("map.json", fixture(), 0);
  ASSERT_TRUE(m.seed.has_value());
  const offload::SeedSetting& s = *m.seed;
  EXPECT_DOUBLE_EQ(s.mean_request_bytes, 159797);
  EXPECT_NEAR(s.bandwidth_mbps, 159797 * 8 / 0.1 / 1e6, 1e-9);  // 12.78 Mbit/s
  EXPECT_EQ(m.cells[s.model_cell].key, "local 1 / remote 1 cpu, 10 Mbit/s, 2 ms RTT");
  EXPECT_NEAR(s.slowed_server_ms, 12.1 * 1.6, 1e-9);
  // 2.2 RTT + 1.1 overhead + 19.36 server + 160887 bytes at 12.78 Mbit/s.
  EXPECT_NEAR(s.predicted.remote, 2.2 + 1.1 + 19.36 + 160887 * 8 / (s.bandwidth_mbps * 1000), 1e-9);
  EXPECT_DOUBLE_EQ(s.predicted.local, 10.6);
  // The remote takes two images (at 0 and at 123 ms, while local still has
  // more than 123 ms of work left), then leaves local the rest: local's 31
  // set the time, 10 ms below local alone.
  EXPECT_NEAR(s.predicted_wall_s.hybrid, 31 * 10.6 / 1000, 1e-9);
  EXPECT_EQ(s.winner, Schedule::hybrid);
}

TEST(ReportMap, ScatterAndTheMissesOutsideTheBand) {
  const MapReport m = offload::map_report("map.json", fixture(), 0);
  ASSERT_EQ(m.scatter.series.size(), 6u);  // local, remote, hybrid; y = x and the band's two edges
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(m.scatter.series[i].points.size(), 28u) << m.scatter.series[i].label;
  // The hybrid as makespan per image: 0.376 s predicted, 0.545 s measured over 33 images.
  EXPECT_THAT(m.scatter.series[2].points, ::testing::Contains(std::pair<double, double>{376.0 / 33, 545.0 / 33}));
  EXPECT_TRUE(m.scatter.series[5].fill_to_previous);
  std::vector<std::string> misses;
  for (const offload::MapMiss& x : m.misses) misses.push_back(x.schedule + " · " + x.key);
  EXPECT_THAT(misses, ElementsAre("local · local 1 / remote 1 cpu, 1000 Mbit/s, 2 ms RTT",
                                  "remote · local 0.25 / remote 1 cpu, 10 Mbit/s, 100 ms RTT",
                                  "hybrid · local 0.25 / remote 1 cpu, 100 Mbit/s, 2 ms RTT, resized",
                                  "hybrid · local 0.25 / remote 1 cpu, 1000 Mbit/s, 2 ms RTT, resized"));
  EXPECT_NEAR(m.misses[1].error, (248.657 - 216.332) / 216.332, 1e-12);
}

// The answers, as reviewed: every figure in them comes from the fixture.
TEST(ReportMap, AnswersInWords) {
  const MapReport m = offload::map_report("map.json", fixture(), 0);
  std::string text;
  for (const MapReport::Answers& a : m.answers) {
    text += "## " + a.topic + "\n";
    for (const std::string& sentence : a.sentences) text += sentence + "\n";
  }
  EXPECT_EQ(text, read(kGolden / "map.answers.txt"));
}

TEST(ReportMap, APartialMapSaysWhatIsMissingAndWhatCannotBeAnswered) {
  MapFile map = fixture();
  // The first three cells of the sweep: the weak local, no downscaling.
  map.cells.erase(map.cells.begin() + 3, map.cells.end());
  const MapReport m = offload::map_report("map.json", map, 0);
  EXPECT_EQ(m.bandwidths, (std::vector<double>{1, 10, 100}));
  EXPECT_TRUE(m.missing.empty());  // its grid is the one row it has
  ASSERT_EQ(m.heatmaps.size(), 1u);
  EXPECT_FALSE(m.seed.has_value());
  EXPECT_THAT(m.sentences(), ::testing::Contains(StartsWith("3 of the 3 cells of this map's grid were measured")));
  EXPECT_THAT(m.sentences(), ::testing::Contains("Downscaling before upload: no cell of this map was measured with it, so "
                                             "what it buys is not measured here."));
  EXPECT_THAT(m.sentences(), ::testing::Contains(HasSubstr("cannot be placed: the map has no cell of a pair with equal "
                                                       "machines, whose model it needs.")));

  map = fixture();
  map.cells.erase(map.cells.begin() + 1);  // 10 Mbit/s, 2 ms RTT of the weak local
  EXPECT_THAT(offload::map_report("map.json", map, 0).sentences(),
              ::testing::Contains(StartsWith("Missing, as the sweep has not measured them (yet): 4 cells: local 0.25 / "
                                             "remote 1 cpu, 10 Mbit/s, 2 ms RTT; local 1 / remote 1 cpu, 1000 Mbit/s")));

  // Equal machines at 1 Mbit/s only: local wins both.
  const MapFile whole = fixture();
  map.cells = {whole.cells[16], whole.cells[20]};
  EXPECT_THAT(offload::map_report("map.json", map, 0).sentences(),
              ::testing::Contains("local 1 / remote 1 cpu, without downscaling: nowhere of the 2 settings measured: local "
                                  "wins every one; the best offloaded run reaches 0.26x of local's speed (hybrid at 1 "
                                  "Mbit/s, 2 ms RTT)."));

  map.cells.clear();
  const MapReport empty = offload::map_report("map.json", map, 0);
  EXPECT_THAT(empty.sentences(), ElementsAre(HasSubstr("holds no cells yet")));
  EXPECT_TRUE(empty.heatmaps.empty());
}

TEST(ReportMap, PageOfAMapAlone) {
  offload::ReportInput input;
  input.files = {"map.json"};
  input.maps = {{"map.json", fixture()}};
  const std::string html = offload::render_html(offload::aggregate(input), "CHART_JS");
  EXPECT_THAT(html, HasSubstr("<h2 id=\"map-0\">Where offloading pays</h2>"));
  EXPECT_THAT(html, HasSubstr("<svg id=\"heatmap-map0-pair1-resized\" class=\"map-heatmap\""));
  EXPECT_THAT(html, HasSubstr("<canvas id=\"chart-map0-scatter\""));
  // No results, so no results sections and no verdict from them.
  EXPECT_EQ(html.find("id=\"verdict\""), std::string::npos);
  EXPECT_EQ(html.find("Mean time per image"), std::string::npos);
  // Every cell in the table; the two mispredicted rows marked.
  size_t rows = 0, missed = 0;
  for (size_t at = html.find("<tr", html.find("class=\"map-cells\"")); at != std::string::npos; at = html.find("<tr", at + 1)) {
    ++rows;
    missed += html.compare(at, 18, "<tr class=\"missed\"") == 0;
  }
  EXPECT_EQ(rows, 2u + 29u);  // two header rows
  EXPECT_EQ(missed, 2u);
}

}  // namespace
