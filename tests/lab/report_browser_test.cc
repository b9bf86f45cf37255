// `lookout report` end to end: results with a real shape (the local half
// from `lookout detect --format jsonl data/small`, the remote half from the
// real `lookout serve` on loopback, one image refused by it), rendered by the
// real binary, opened in headless Chromium by tests/report/check-report.js.
// The checker must pass on the real page and fail on a doctored one: a chart
// emptied, a chart drawn in grey (each named), an image fetched. Pages and screenshots are kept in
// report-check/ under the build directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "server/server_process.h"
#include "wire/offload.h"

namespace {

namespace fs = std::filesystem;
using lookout::server_test::kPhotos;
using lookout::server_test::kRoot;
using lookout::server_test::read_file;
using lookout::server_test::ServerOptions;
using lookout::server_test::ServerProcess;
using lookout::server_test::shell_quote;
using lookout::server_test::TempDir;
using lookout::server_test::write_file;
using nlohmann::json;
using ::testing::HasSubstr;

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

// A shell command from the repository root, stdout and stderr apart.
Outcome run(const std::string& command, const fs::path& scratch) {
  const fs::path out = scratch / ".stdout", err = scratch / ".stderr";
  const std::string full = "cd " + shell_quote(kRoot.string()) + " && " + command + " > " +
                           shell_quote(out.string()) + " 2> " + shell_quote(err.string()) + " < /dev/null";
  const int status = std::system(full.c_str());
  Outcome r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::string lookout_report(const std::vector<fs::path>& inputs, const fs::path& output) {
  std::string cmd = shell_quote(LOOKOUT_BINARY) + " report";
  for (const fs::path& p : inputs) cmd += " " + shell_quote(p.string());
  return cmd + " -o " + shell_quote(output.string());
}

std::string check_report(const fs::path& page, const fs::path& screenshot, int expect_charts, int expect_map_cells = -1) {
  return "node tests/report/check-report.js " + shell_quote(page.string()) + " " + shell_quote(screenshot.string()) +
         " --expect-charts " + std::to_string(expect_charts) +
         (expect_map_cells < 0 ? std::string() : " --expect-map-cells " + std::to_string(expect_map_cells));
}

// The map fixture of tests/lab/report_map_test.cc: 29 cells of a 32-cell
// grid, 28 of them validated, over four heatmaps.
const fs::path kMap = kRoot / "tests/lab/report-golden/map.json";

// The page's data element, for tests that doctor it.
struct PageData {
  std::string html;
  size_t begin = 0, end = 0;
  json data;
  explicit PageData(std::string page) : html(std::move(page)) {
    const std::string open = "<script type=\"application/json\" id=\"report-data\">";
    begin = html.find(open);
    if (begin == std::string::npos) throw std::runtime_error("no report-data element in the page");
    begin += open.size();
    end = html.find("</script>", begin);
    data = json::parse(html.substr(begin, end - begin));
  }
  std::string with_data() const {
    std::string out = html;
    return out.replace(begin, end - begin, data.dump());
  }
};

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }

// The results file and an offload summary made from the same measurements,
// produced once for the suite.
class ReportBrowser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new TempDir();
    artifacts_ = fs::current_path() / "report-check";
    fs::create_directories(artifacts_);
    std::vector<json> records;
    std::vector<double> local_totals, remote_totals, remote_uploads, remote_bytes;

    // Local: the detector in-process, as `lookout run --target local` records it.
    const Outcome detect = run(shell_quote(LOOKOUT_BINARY) + " detect --format jsonl data/small", scratch_->path());
    ASSERT_EQ(detect.exit_code, 0) << detect.err;
    std::istringstream lines(detect.out);
    std::string line;
    while (std::getline(lines, line)) {
      const json d = json::parse(line);
      const fs::path file = kRoot / d["file"].get<std::string>();
      const double total = d["timing_ms"]["total"].get<double>();
      json timing = d["timing_ms"];
      timing["upload"] = 0.0;
      timing["queue"] = 0.0;
      timing["round_trip"] = total;
      records.push_back({{"image", file.filename().string()}, {"collection", "small"}, {"target", "local"},
                         {"schedule", "hybrid"}, {"ok", true}, {"status", 200}, {"error", nullptr},
                         {"file_bytes", fs::file_size(file)}, {"bytes_sent", 0}, {"response_bytes", 0},
                         {"width", d["width"]}, {"height", d["height"]}, {"timing_ms", timing},
                         {"detections", d["detections"]}, {"attempts", 1}});
      local_totals.push_back(total);
    }
    ASSERT_GE(local_totals.size(), 30u) << "data/small should hold the 33 photos (scripts/setup)";

    // Remote: each photo as a raw body to the real server; plus one
    // truncated JPEG, which it refuses.
    ServerOptions options;
    options.args = {"--workers", "1"};
    ServerProcess server(options);
    const std::string url = server.url();
    auto client = server.client();
    std::vector<fs::path> photos;
    for (const auto& entry : fs::directory_iterator(kPhotos))
      if (entry.path().extension() == ".jpg") photos.push_back(entry.path());
    std::sort(photos.begin(), photos.end());
    const fs::path truncated = scratch_->path() / "truncated.jpg";
    write_file(truncated, read_file(photos.front()).substr(0, 200));
    photos.push_back(truncated);
    for (const fs::path& photo : photos) {
      const std::string body = read_file(photo);
      const auto start = std::chrono::steady_clock::now();
      auto res = client->Post("/api/detect?id=" + photo.filename().string(), body, "image/jpeg");
      const double round_trip =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      ASSERT_TRUE(res) << "no answer from " << url << " for " << photo;
      const json answer = json::parse(res->body);
      const json& result = answer.contains("results") ? answer["results"][0] : answer;
      const bool ok = res->status == 200 && result.value("status", 0) == 200;
      json timing = result.value("timing_ms", json::object());
      timing["round_trip"] = round_trip;
      timing["total"] = round_trip;
      records.push_back({{"image", photo.filename().string()}, {"collection", "small"}, {"target", url},
                         {"schedule", "hybrid"}, {"ok", ok}, {"status", result.value("status", res->status)},
                         {"error", ok ? json(nullptr) : json(result.value("error", "status " + std::to_string(res->status)))},
                         {"file_bytes", body.size()}, {"bytes_sent", body.size()}, {"response_bytes", res->body.size()},
                         {"timing_ms", timing}, {"detections", result.value("detections", json::array())},
                         {"attempts", 1}});
      if (ok) {
        remote_totals.push_back(round_trip);
        remote_uploads.push_back(timing.value("upload", 0.0));
        remote_bytes.push_back(static_cast<double>(body.size()));
      }
    }
    ASSERT_FALSE(records.back()["ok"].get<bool>()) << "the server accepted a truncated JPEG";

    results_ = scratch_->path() / "results.jsonl";
    std::string jsonl;
    for (const json& r : records) jsonl += r.dump() + "\n";
    write_file(results_, jsonl);

    // The offload summary `lookout offload --json` writes, from these means:
    // the time beyond the upload is the remote's fixed part (0.1 ms of it
    // the round trip), at the bandwidth the uploads achieved.
    const double local_ms = mean(local_totals), remote_ms = mean(remote_totals);
    const double fixed_ms = remote_ms - mean(remote_uploads), bytes = mean(remote_bytes);
    const double measured_mbps = bytes * 8 / (std::max(mean(remote_uploads), 0.01) * 1000);
    lookout::wire::OffloadSummary summary;
    summary.collection = "small";
    summary.images = local_totals.size();
    summary.mean_file_bytes = bytes;
    summary.local = {local_ms, 1, std::nullopt};
    summary.remote = {url, 0.1, 0.0, measured_mbps, bytes, 0.0, fixed_ms - 0.1, 1.0, remote_ms, 1, 1, std::nullopt, std::nullopt};
    summary.model = {fixed_ms, bytes};
    if (local_ms > fixed_ms) summary.break_even.bandwidth_mbps = bytes * 8 / (1000 * (local_ms - fixed_ms));
    summary.verdict = local_ms <= remote_ms ? "Run locally: loopback remote is no faster." : "Offload: the loopback remote is faster.";
    summary.hybrid = {local_totals.size() * local_ms / 1000, 1.0, std::nullopt, std::nullopt, std::nullopt};
    summary.runs = {{"loopback", measured_mbps, 0.1, remote_ms, remote_ms}};
    offload_ = scratch_->path() / "offload.json";
    write_file(offload_, lookout::wire::offload_text(summary));
  }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  void SetUp() override {
    if (results_.empty()) GTEST_SKIP() << "the suite's set-up failed";
  }

  static inline TempDir* scratch_ = nullptr;
  static inline fs::path artifacts_, results_, offload_;
};

TEST_F(ReportBrowser, ReportWithOffloadSummaryDrawsEveryChart) {
  const fs::path page = artifacts_ / "report.html";
  const Outcome report = run(lookout_report({results_, offload_}, page), scratch_->path());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, HasSubstr("wrote"));
  const std::string html = read_file(page);
  EXPECT_THAT(html, HasSubstr(" succeeded, 1 failed;"));  // the truncated JPEG
  EXPECT_THAT(html, HasSubstr("Chart.js v4.6.1"));

  const Outcome check = run(check_report(page, artifacts_ / "report.png", 3), scratch_->path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("(chart-means)"));
  EXPECT_THAT(check.out, HasSubstr("(chart-cdf)"));
  EXPECT_THAT(check.out, HasSubstr("(chart-break-even)"));
  EXPECT_GT(fs::file_size(artifacts_ / "report.png"), 10000u);
}

TEST_F(ReportBrowser, ReportFromResultsAloneDrawsEveryChart) {
  const fs::path page = artifacts_ / "report-results-only.html";
  const Outcome report = run(lookout_report({results_}, page), scratch_->path());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const Outcome check = run(check_report(page, artifacts_ / "report-results-only.png", 3), scratch_->path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(ReportBrowser, CheckerFailsOnEmptyOrUndrawnChartsAndFetches) {
  const fs::path page = artifacts_ / "report-emptied.html";
  ASSERT_EQ(run(lookout_report({results_, offload_}, page), scratch_->path()).exit_code, 0);
  // Empty the CDF's data in the page, leaving everything else as rendered.
  PageData doctored(read_file(page));
  json& data = doctored.data;
  // The CDF loses its points; the break-even chart keeps them but is drawn
  // in grey, like the grid: each of the checker's two tests must catch one.
  int changed = 0;
  for (json& chart : data["charts"]) {
    for (json& series : chart["series"]) {
      if (chart["id"] == "cdf") series["points"] = json::array();
      if (chart["id"] == "break-even") series["color"] = "#b0b0b0";
    }
    if (chart["id"] == "cdf" || chart["id"] == "break-even") ++changed;
  }
  ASSERT_EQ(changed, 2) << "no cdf or break-even chart in the page";
  std::string html = doctored.with_data();
  // And one fetch (to loopback's discard port), which a report must never make.
  const std::string fetch = "<img src=\"http://127.0.0.1:9/pixel.png\" alt=\"\">";
  html.insert(html.find("</main>"), fetch);
  write_file(page, html);

  const Outcome check = run(check_report(page, artifacts_ / "report-emptied.png", 3), scratch_->path());
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  EXPECT_THAT(check.err, HasSubstr("chart 'Distribution of total time per image (CDF)' (chart-cdf) is empty"));
  EXPECT_THAT(check.err, HasSubstr("chart 'Break-even: time per image vs upload bandwidth' (chart-break-even) drew "
                                   "almost nothing"));
  EXPECT_THAT(check.err, HasSubstr("the page made a network request: http://127.0.0.1:9/pixel.png"));
  EXPECT_THAT(check.err, ::testing::Not(HasSubstr("chart-means")));
}

TEST_F(ReportBrowser, ReportWithAMapDrawsItsHeatmapsAndScatter) {
  const fs::path page = artifacts_ / "report-map.html";
  const Outcome report = run(lookout_report({results_, offload_, kMap}, page), scratch_->path());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.err, HasSubstr("1 map of 29 cells"));
  const Outcome check = run(check_report(page, artifacts_ / "report-map.png", 4, 28), scratch_->path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("(chart-break-even)"));
  // 28 validated cells x 3 schedules, and two points each for y = x and the band's edges.
  EXPECT_THAT(check.out, HasSubstr("(chart-map0-scatter): 90 data points"));
  EXPECT_THAT(check.out, HasSubstr("heatmap (heatmap-map0-pair0): 8 of 8 cells drawn, 8 labels, 0 missing, boundary drawn\n"));
  EXPECT_THAT(check.out, HasSubstr("heatmap (heatmap-map0-pair1): 8 of 8 cells drawn, 8 labels, 0 missing, boundary drawn, "
                                   "seed marked"));
  // Two mispredicted cells carry a warning sign as a second label.
  EXPECT_THAT(check.out, HasSubstr("heatmap (heatmap-map0-pair0-resized): 8 of 8 cells drawn, 10 labels"));
  // Three cells missing from the sweep; one without validation runs (labelled "no runs", not a drawn cell).
  EXPECT_THAT(check.out, HasSubstr("heatmap (heatmap-map0-pair1-resized): 4 of 4 cells drawn, 5 labels, 3 missing"));
}

TEST_F(ReportBrowser, AMapAloneAndAPartialMapRender) {
  const fs::path page = artifacts_ / "report-map-only.html";
  const Outcome report = run(lookout_report({kMap}, page), scratch_->path());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const Outcome check = run(check_report(page, artifacts_ / "report-map-only.png", 1, 28), scratch_->path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  // The first five cells of the sweep, as map.json holds them while it runs.
  json map = json::parse(read_file(kMap));
  map["cells"].erase(map["cells"].begin() + 5, map["cells"].end());
  const fs::path partial = scratch_->path() / "map-partial.json";
  write_file(partial, map.dump(2));
  const fs::path partial_page = artifacts_ / "report-map-partial.html";
  const Outcome partial_report = run(lookout_report({partial}, partial_page), scratch_->path());
  ASSERT_EQ(partial_report.exit_code, 0) << partial_report.err;
  EXPECT_THAT(read_file(partial_page), HasSubstr("Missing, as the sweep has not measured them (yet): 3 cells"));
  const Outcome partial_check =
      run(check_report(partial_page, artifacts_ / "report-map-partial.png", 1, 5), scratch_->path());
  EXPECT_EQ(partial_check.exit_code, 0) << partial_check.out << partial_check.err;
  EXPECT_THAT(partial_check.out, HasSubstr("heatmap (heatmap-map0-pair0): 5 of 5 cells drawn, 5 labels, 3 missing"));
}

TEST_F(ReportBrowser, CheckerFailsOnAnEmptyHeatmap) {
  const fs::path page = artifacts_ / "report-map-emptied.html";
  ASSERT_EQ(run(lookout_report({kMap}, page), scratch_->path()).exit_code, 0);
  PageData doctored(read_file(page));
  ASSERT_EQ(doctored.data["maps"][0]["heatmaps"].size(), 4u);
  doctored.data["maps"][0]["heatmaps"][1]["cells"] = json::array();
  write_file(page, doctored.with_data());
  const Outcome check = run(check_report(page, artifacts_ / "report-map-emptied.png", 1, 28), scratch_->path());
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  EXPECT_THAT(check.err, HasSubstr("heatmap (heatmap-map0-pair0-resized) is empty: no measured cell"));
  EXPECT_THAT(check.err, HasSubstr("expected 28 heatmap cells, found 20"));
  EXPECT_THAT(check.err, ::testing::Not(HasSubstr("heatmap-map0-pair1")));
}

TEST_F(ReportBrowser, BadInputIsReportedClearly) {
  const fs::path dir = scratch_->path();
  const fs::path page = dir / "bad.html";

  const Outcome missing = run(lookout_report({dir / "missing.jsonl"}, page), dir);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr((dir / "missing.jsonl").string() + ": No such file"));

  const fs::path partly = dir / "partly.jsonl";
  write_file(partly, read_file(results_).substr(0, 2000) + "\n{not json}\n");
  const Outcome skipped = run(lookout_report({partly}, page), dir);
  EXPECT_EQ(skipped.exit_code, 1) << skipped.err;
  EXPECT_THAT(skipped.err, HasSubstr("warning: " + partly.string() + ":"));
  EXPECT_THAT(skipped.err, HasSubstr("not JSON"));
  EXPECT_TRUE(fs::exists(page)) << "the records that parsed are still reported";

  const fs::path empty = dir / "empty.jsonl";
  write_file(empty, "\n");
  const Outcome none = run(lookout_report({empty}, dir / "none.html"), dir);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("no result records"));
  EXPECT_THAT(none.err, HasSubstr("lookout map"));
  EXPECT_THAT(none.err, HasSubstr("lookout run"));
  EXPECT_FALSE(fs::exists(dir / "none.html"));

  const Outcome help = run(shell_quote(LOOKOUT_BINARY) + " report --help", dir);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--output"));
  EXPECT_THAT(help.out, HasSubstr("Exit codes"));
  EXPECT_THAT(help.out, HasSubstr("map.json"));
}

}  // namespace
