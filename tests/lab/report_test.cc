// The report's reading and arithmetic (src/offload/report_data.h) on records
// built here, with results worked out by hand; and its page
// (src/offload/report_page.h).
#include "offload/report_data.h"

#include "offload/report_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using lookout::offload::ChartSpec;
using lookout::offload::GroupStats;
using lookout::wire::Record;
using lookout::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace offload = lookout::offload;

Record record(const std::string& collection, const std::string& target, bool ok, double inference, double upload,
              double total, uint64_t bytes = 1000) {
  Record r;
  r.image = "img.jpg";
  r.collection = collection;
  r.target = target;
  r.ok = ok;
  r.timing.inference = inference;
  r.timing.upload = upload;
  r.timing.total = total;
  r.bytes_sent = bytes;
  r.file_bytes = bytes;
  if (!ok) r.error = "connection refused";
  return r;
}

// An offload summary as `lookout offload` writes it: local 11 ms; remote
// fixed part 0.5 + 2 + 50 = 52.5 ms, 121300 bytes per image at 9.6 Mbit/s.
lookout::wire::OffloadSummary summary_small() {
  lookout::wire::OffloadSummary s;
  s.collection = "small";
  s.images = 33;
  s.mean_file_bytes = 120000;
  s.local = {11.0, 2, std::nullopt};
  s.remote = {"http://r:1", 0.5, 2.0, 9.6, 120000, 1300, 50.0, 0.99, 153.583, 1, 1, std::nullopt, std::nullopt};
  s.model = {52.5, 121300};
  s.verdict = "Run locally.";
  s.hybrid = {1.2, 0.9, std::nullopt, std::nullopt, std::nullopt};
  s.runs = {{"10mbit", 9.6, 0.5, 151.0, 153.583}};
  return s;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(ReadInputs, SkipsMalformedLinesNamingFileAndLine) {
  TempDir tmp;
  const fs::path results = tmp.path() / "results.jsonl";
  write(results,
        "{\"image\":\"a.jpg\",\"target\":\"local\",\"ok\":true,\"timing_ms\":{\"total\":10}}\n"
        "\n"
        "{\"image\":\"b.jpg\",\"target\":\"local\",\"ok\":tru\n"
        "{\"image\":\"c.jpg\",\"target\":\"local\",\"ok\":true,\"timing_ms\":{\"total\":20}}\n");
  const fs::path summary = tmp.path() / "offload.json";
  write(summary, lookout::wire::offload_text(summary_small()));
  const offload::ReportInput input = offload::read_inputs({results, summary});
  ASSERT_EQ(input.records.size(), 2u);
  EXPECT_EQ(input.records[1].image, "c.jpg");
  ASSERT_EQ(input.warnings.size(), 1u);
  EXPECT_THAT(input.warnings[0], StartsWith(results.string() + ":3: not JSON"));
  ASSERT_EQ(input.offloads.size(), 1u);
  EXPECT_EQ(input.offloads[0].source, "offload.json");
  const lookout::wire::OffloadSummary& o = input.offloads[0].summary;
  EXPECT_EQ(o.collection, "small");
  EXPECT_DOUBLE_EQ(o.local.ms_per_image, 11.0);
  EXPECT_DOUBLE_EQ(o.model.fixed_ms, 52.5);
  EXPECT_FALSE(o.break_even.bandwidth_mbps.has_value());
  ASSERT_EQ(o.runs.size(), 1u);
  EXPECT_DOUBLE_EQ(o.runs[0].ms_per_image, 151.0);
}

TEST(ReadInputs, MissingFileAndIncompleteSummaryAreErrors) {
  TempDir tmp;
  const fs::path missing = tmp.path() / "nope.jsonl";
  try {
    offload::read_inputs({missing});
    FAIL() << "a missing file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing.string()));
    EXPECT_THAT(e.what(), HasSubstr("No such file"));
  }
  const fs::path incomplete = tmp.path() / "offload.json";
  json doc = json::parse(lookout::wire::offload_text(summary_small()));
  doc["remote"].erase("bandwidth_mbps");
  write(incomplete, doc.dump(2));
  try {
    offload::read_inputs({incomplete});
    FAIL() << "an offload summary without the remote's bandwidth was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(incomplete.string() + ": "));
    EXPECT_THAT(e.what(), HasSubstr(R"("remote": "bandwidth_mbps" is missing)"));
    EXPECT_THAT(e.what(), HasSubstr("lookout offload DIR --remote URL --json FILE"));
  }
}

TEST(GroupResults, MeansOverSuccessfulRecordsPerCollectionAndTarget) {
  const std::vector<Record> records = {
      record("small", "http://r:1", true, 20, 10, 50, 3000),
      record("small", "local", true, 8, 0, 10),
      record("small", "http://r:1", true, 30, 20, 70, 5000),
      record("small", "local", true, 12, 0, 14),
      record("small", "local", false, 999, 999, 999),  // failed: counted, not averaged
      record("big", "local", true, 40, 0, 44),
  };
  const std::vector<GroupStats> groups = offload::group_results(records);
  ASSERT_EQ(groups.size(), 3u);
  // small first (first seen), local before remote within it.
  EXPECT_EQ(groups[0].name(), "small · local");
  EXPECT_EQ(groups[1].name(), "small · http://r:1");
  EXPECT_EQ(groups[2].name(), "big · local");

  const GroupStats& local = groups[0];
  EXPECT_EQ(local.images, 3u);
  EXPECT_EQ(local.ok, 2u);
  EXPECT_EQ(local.failed, 1u);
  EXPECT_DOUBLE_EQ(*local.mean_inference_ms, 10.0);
  EXPECT_DOUBLE_EQ(*local.mean_upload_ms, 0.0);
  EXPECT_DOUBLE_EQ(*local.mean_total_ms, 12.0);
  EXPECT_EQ(local.totals_ms, (std::vector<double>{10, 14}));

  const GroupStats& remote = groups[1];
  EXPECT_DOUBLE_EQ(*remote.mean_inference_ms, 25.0);
  EXPECT_DOUBLE_EQ(*remote.mean_upload_ms, 15.0);
  EXPECT_DOUBLE_EQ(*remote.mean_total_ms, 60.0);
  EXPECT_DOUBLE_EQ(remote.bytes_sent, 8000);
  EXPECT_DOUBLE_EQ(*remote.mean_bytes_sent, 4000);
}

TEST(GroupResults, RunsWithDifferentLabelsStayApart) {
  // Two remote runs against one URL at two link settings, and a hybrid run.
  std::vector<Record> records = {record("small", "http://r:1", true, 20, 100, 200), record("small", "http://r:1", true, 20, 5, 30),
                                 record("small", "local", true, 10, 0, 12), record("small", "http://r:1", true, 20, 5, 31)};
  records[0].label = "10 Mbit/s";
  records[1].label = "200 Mbit/s";
  records[2].schedule = records[3].schedule = "hybrid";
  records[2].label = records[3].label = "200 Mbit/s";
  const std::vector<GroupStats> groups = offload::group_results(records);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].name(), "small · http://r:1 · 10 Mbit/s");
  EXPECT_DOUBLE_EQ(*groups[0].mean_total_ms, 200);
  EXPECT_EQ(groups[1].name(), "small · http://r:1 · 200 Mbit/s");
  EXPECT_DOUBLE_EQ(*groups[1].mean_total_ms, 30);
  EXPECT_EQ(groups[2].name(), "small · local (in hybrid) · 200 Mbit/s");
  EXPECT_EQ(groups[3].name(), "small · http://r:1 (in hybrid) · 200 Mbit/s");
}

TEST(GroupResults, AllFailedHasNoMeans) {
  const auto groups = offload::group_results({record("s", "local", false, 1, 0, 1)});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_FALSE(groups[0].mean_total_ms.has_value());
  EXPECT_TRUE(groups[0].totals_ms.empty());
}

TEST(Distribution, QuantileAndCdf) {
  const std::vector<double> v = {1, 2, 2, 3, 10};
  EXPECT_DOUBLE_EQ(offload::quantile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(offload::quantile(v, 0.5), 2);   // rank ceil(2.5) = 3
  EXPECT_DOUBLE_EQ(offload::quantile(v, 0.95), 10);  // rank 5
  EXPECT_TRUE(std::isnan(offload::quantile({}, 0.5)));
  const auto points = offload::cdf(v);
  const std::vector<std::pair<double, double>> expected = {{1, 0.2}, {2, 0.6}, {3, 0.8}, {10, 1.0}};
  ASSERT_EQ(points.size(), expected.size());
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_DOUBLE_EQ(points[i].first, expected[i].first);
    EXPECT_DOUBLE_EQ(points[i].second, expected[i].second);
  }
  EXPECT_TRUE(offload::cdf({}).empty());
}

TEST(EstimateModel, FromRemoteResults) {
  const auto groups = offload::group_results(
      {record("s", "http://r:1", true, 20, 10, 50, 3000), record("s", "http://r:1", true, 30, 20, 70, 5000)});
  const auto model = offload::estimate_model(groups[0]);
  ASSERT_TRUE(model.has_value());
  EXPECT_DOUBLE_EQ(model->fixed_ms(), 45.0);  // mean total 60 - mean upload 15
  EXPECT_DOUBLE_EQ(model->bytes_per_image(), 4000);
  // 4000 B in 15 ms = 32000 bit / 15 ms = 2.1333 Mbit/s; the model gives the mean total there.
  const auto bw = offload::measured_bandwidth_mbps(groups[0]);
  ASSERT_TRUE(bw.has_value());
  EXPECT_NEAR(*bw, 2.13333, 1e-4);
  EXPECT_NEAR(model->remote_ms_at(*bw, 0), 60.0, 1e-9);
}

TEST(Verdict, FromResults) {
  using offload::verdict_from_results;
  const auto groups_of = [](std::vector<Record> r) { return offload::group_results(r); };
  EXPECT_EQ(verdict_from_results(groups_of({record("small", "local", true, 8, 0, 10),
                                            record("small", "http://r:1", true, 20, 10, 40)})),
            "Run locally: on small local wins with 10.0 ms per image against 40.0 ms on http://r:1 (4.0x).");
  EXPECT_EQ(verdict_from_results(groups_of({record("small", "local", true, 80, 0, 90),
                                            record("small", "http://r:1", true, 20, 10, 30),
                                            record("small", "http://r:2", true, 20, 10, 45)})),
            "Offload: on small http://r:1 wins with 30.0 ms per image against 90.0 ms locally (3.0x).");
  EXPECT_THAT(verdict_from_results(groups_of({record("small", "local", true, 8, 0, 10),
                                              record("small", "http://r:1", true, 20, 10, 40),
                                              record("big", "local", true, 80, 0, 90),
                                              record("big", "http://r:1", true, 20, 10, 30)})),
              StartsWith("It depends on the collection: on small local wins"));
  EXPECT_THAT(verdict_from_results(groups_of({record("small", "local", true, 8, 0, 10)})),
              StartsWith("Only local runs succeeded (small 10.0 ms per image): add a remote target"));
  EXPECT_THAT(verdict_from_results(groups_of({record("small", "local", false, 8, 0, 10)})),
              StartsWith("No image succeeded"));
}

TEST(Verdict, ComparesEachSideAloneAndNamesTheLabel) {
  std::vector<Record> records = {record("small", "local", true, 8, 0, 10), record("small", "http://r:1", true, 20, 10, 40),
                                 record("small", "http://r:1", true, 20, 5, 25), record("small", "local", true, 8, 0, 9),
                                 record("small", "http://r:1", true, 20, 5, 12)};
  records[1].label = "10 Mbit/s";
  records[2].label = "200 Mbit/s";
  // A hybrid run's shares: the remote's quick 12 ms there is not the remote alone.
  records[3].schedule = records[4].schedule = "hybrid";
  EXPECT_EQ(offload::verdict_from_results(offload::group_results(records)),
            "Run locally: on small local wins with 10.0 ms per image against 25.0 ms on http://r:1 · 200 Mbit/s (2.5x).");
  // Without a run of its own, a side's share is what there is.
  records.erase(records.begin(), records.begin() + 3);
  EXPECT_EQ(offload::verdict_from_results(offload::group_results(records)),
            "Run locally: on small local wins with 9.0 ms per image against 12.0 ms on http://r:1 (in hybrid) (1.3x).");
}

TEST(Failures, CountedByTargetAndMessage) {
  std::vector<Record> records = {record("s", "http://r:1", false, 0, 0, 0), record("s", "http://r:1", false, 0, 0, 0),
                                       record("s", "local", false, 0, 0, 0), record("s", "local", true, 1, 0, 1)};
  records[2].error = "cannot decode JPEG";
  const auto counts = offload::failure_counts(records);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0], (std::pair<std::string, size_t>{"http://r:1: connection refused", 2}));
  EXPECT_EQ(counts[1], (std::pair<std::string, size_t>{"local: cannot decode JPEG", 1}));
}

TEST(Aggregate, TotalsQuantilesAndOneVerdictPerOffloadSummary) {
  offload::ReportInput input;
  input.files = {"results.jsonl", "a.json", "b.json"};
  input.warnings = {"results.jsonl:3: not JSON"};
  input.records = {record("small", "local", true, 8, 0, 10, 2000), record("small", "local", true, 9, 0, 30, 2000),
                   record("small", "local", true, 9, 0, 20, 2000), record("small", "http://r:1", false, 0, 0, 0, 5000),
                   record("big", "http://r:1", true, 20, 10, 50, 4000000)};
  input.records[1].image = "other.jpg";
  input.records[4].file_bytes = 8000000;  // sent resized
  input.offloads = {{"a.json", summary_small()}, {"b.json", summary_small()}};
  input.offloads[1].summary.collection = "big";
  input.offloads[1].summary.verdict = "";
  const offload::ReportData d = offload::aggregate(input);

  EXPECT_EQ(d.totals.results, 5u);
  EXPECT_EQ(d.totals.distinct_images, 3u);  // small/img.jpg, small/other.jpg, big/img.jpg
  EXPECT_EQ(d.totals.ok, 4u);
  EXPECT_EQ(d.totals.failed, 1u);
  EXPECT_EQ(d.totals.resized, 1u);
  EXPECT_DOUBLE_EQ(d.totals.bytes_sent, 4011000);

  ASSERT_EQ(d.groups.size(), 3u);
  EXPECT_EQ(d.groups[0].name(), "small · local");
  EXPECT_DOUBLE_EQ(*d.groups[0].median_total_ms, 20);  // nearest rank of 10, 20, 30
  EXPECT_DOUBLE_EQ(*d.groups[0].p95_total_ms, 30);
  EXPECT_FALSE(d.groups[1].median_total_ms.has_value());  // small · http://r:1: all failed

  // Several summaries: each verdict names its collection; one without a verdict says so.
  EXPECT_EQ(d.offload_verdicts, (std::vector<std::string>{"small: Run locally.", "big: (no verdict in b.json)"}));
  EXPECT_THAT(d.results_verdict, StartsWith("Local and remote ran on different collections"));
  EXPECT_EQ(d.failures, (std::vector<std::pair<std::string, size_t>>{{"http://r:1: connection refused", 1}}));
  EXPECT_EQ(d.warnings, input.warnings);
  ASSERT_EQ(d.charts.size(), 3u);
  EXPECT_EQ(d.charts[2].id, "break-even");
}

TEST(Charts, EveryChartHasDataAndTheBreakEvenCurveFollowsTheModel) {
  const auto groups = offload::group_results(
      {record("small", "local", true, 8, 0, 10), record("small", "local", true, 9, 0, 12),
       record("small", "http://r:1", true, 20, 10, 50, 3000), record("small", "http://r:1", true, 30, 20, 70, 5000)});
  // Local 11 ms; remote 1 + 0 + 4 = 5 ms fixed and 125000 bytes (1 Mbit):
  // 5 + 1000 / bw = 11 at 166.667 Mbit/s.
  offload::OffloadInput o{"offload.json", summary_small()};
  o.summary.local.ms_per_image = 11.0;
  o.summary.remote.rtt_ms = 1;
  o.summary.remote.overhead_ms = 0;
  o.summary.remote.server_ms = 4;
  o.summary.remote.mean_request_bytes = 124000;
  o.summary.remote.mean_response_bytes = 1000;
  o.summary.runs = {{"10mbit", 9.6, 1, 110.0, 109.0}, {"all failed", 9.6, 1, 0.0, 109.0}};
  for (const bool with_summary : {false, true}) {
    SCOPED_TRACE(with_summary ? "with an offload summary" : "estimated from the results");
    const std::vector<ChartSpec> charts =
        offload::build_charts(groups, with_summary ? std::vector<offload::OffloadInput>{o} : std::vector<offload::OffloadInput>{});
    ASSERT_EQ(charts.size(), 3u);
    EXPECT_EQ(charts[0].id, "means");
    EXPECT_EQ(charts[0].labels, (std::vector<std::string>{"small · local", "small · http://r:1"}));
    ASSERT_EQ(charts[0].series.size(), 3u);
    EXPECT_EQ(charts[0].series[2].values, (std::vector<double>{11.0, 60.0}));  // total
    EXPECT_EQ(charts[1].id, "cdf");
    ASSERT_EQ(charts[1].series.size(), 2u);
    EXPECT_EQ(charts[1].series[0].points, (std::vector<std::pair<double, double>>{{10.0, 0.0}, {10.0, 0.5}, {12.0, 1.0}}));
    EXPECT_EQ(charts[2].id, "break-even");
    EXPECT_TRUE(charts[2].x_log);
    for (const auto& s : charts[2].series) EXPECT_FALSE(s.points.empty()) << s.label;
  }
  const std::vector<ChartSpec> charts = offload::build_charts(groups, {o});
  const auto& series = charts[2].series;
  ASSERT_EQ(series.size(), 4u);  // local line, model curve, measured runs, break-even point
  EXPECT_THAT(series[0].label, StartsWith("local: 11.0 ms"));
  EXPECT_EQ(series[0].points.front().second, 11.0);
  for (const auto& [bw, t] : series[1].points) EXPECT_NEAR(t, 5.0 + 125000 * 8 / (bw * 1000), 1e-9);
  EXPECT_LE(series[1].points.front().first, 1.0);
  EXPECT_GE(series[1].points.back().first, 1000.0);
  EXPECT_EQ(series[2].points, (std::vector<std::pair<double, double>>{{9.6, 110.0}}));  // not the failed run
  EXPECT_FALSE(series[2].line);
  EXPECT_NEAR(series[3].points[0].first, 166.667, 1e-3);
}

TEST(Charts, NoBreakEvenChartWithoutARemoteSide) {
  const auto charts = offload::build_charts(offload::group_results({record("small", "local", true, 8, 0, 10)}), {});
  ASSERT_EQ(charts.size(), 2u);
  EXPECT_EQ(charts[1].id, "cdf");
}

TEST(RenderHtml, SelfContainedAndEscaped) {
  offload::ReportInput input;
  input.files = {"results.jsonl"};
  // The collection name lands in table cells and in the chart data (JSON in a <script>).
  const std::string hostile = "</script><img src=x onerror=alert(1)>";
  input.records = {record(hostile, "local", true, 8, 0, 10), record(hostile, "http://r:1", true, 20, 10, 40)};
  input.records[1].ok = false;
  input.records[1].error = "<b>refused</b>";
  const std::string html = offload::render_html(offload::aggregate(input), "window.Chart = function () {};");
  EXPECT_THAT(html, HasSubstr("<canvas id=\"chart-means\""));
  EXPECT_THAT(html, HasSubstr("<canvas id=\"chart-cdf\""));
  EXPECT_THAT(html, HasSubstr("window.Chart = function () {};"));
  EXPECT_THAT(html, HasSubstr("http://r:1: &lt;b&gt;refused&lt;/b&gt;"));
  EXPECT_THAT(html, HasSubstr("Only local runs succeeded"));
  // Three script elements, each closed once: nothing in the data ended one early.
  size_t closes = 0;
  for (size_t at = html.find("</script>"); at != std::string::npos; at = html.find("</script>", at + 1)) ++closes;
  EXPECT_EQ(closes, 3u);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_THAT(html, HasSubstr("&lt;/script&gt;&lt;img src=x"));
  EXPECT_THAT(html, HasSubstr("\\u003c/script>\\u003cimg src=x"));
  // Nothing for the browser to fetch.
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
}

TEST(RenderHtml, LeavesNoSourceMapReference) {
  offload::ReportInput input;
  input.records = {record("small", "local", true, 8, 0, 10)};
  const std::string html = offload::render_html(offload::aggregate(input), "var a = 1;\n//# sourceMappingURL=chart.umd.js.map\n");
  EXPECT_THAT(html, HasSubstr("var a = 1;"));
  EXPECT_EQ(html.find("sourceMappingURL"), std::string::npos);
}

}  // namespace
