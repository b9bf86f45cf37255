// The offloading lab's report: per-image results (JSONL from `lookout run`)
// and offload summaries (JSON from `lookout offload`) in, aggregates and one
// self-contained HTML page out (tables, Chart.js charts inlined, data as
// JSON in the page; nothing is fetched when it is opened).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/record.h"

namespace lookout::offload {

// What `lookout offload --json` wrote (the fields the report draws).
struct OffloadSummary {
  std::string source;  // file name, for labels and messages
  std::string collection;
  std::optional<double> images;
  std::optional<double> local_ms;  // local.ms_per_image
  std::string remote_url;
  std::optional<double> remote_ms, remote_bandwidth_mbps, remote_rtt_ms;
  std::optional<double> model_fixed_ms, model_bytes_per_image;
  std::optional<double> break_even_mbps, break_even_rtt_ms;
  std::string verdict;
  std::optional<double> hybrid_predicted_s, hybrid_measured_s;
  struct Run {
    std::string label;
    double bandwidth_mbps = 0, ms_per_image = 0;
  };
  std::vector<Run> runs;
};

// A parsed offload JSON object -> summary; throws std::invalid_argument
// when it is not an object or lacks the cost model.
OffloadSummary parse_offload(const nlohmann::json& doc, const std::string& source);

// True for a document `lookout offload --json` wrote (has "model" or
// "verdict"), as opposed to one results line.
bool looks_like_offload(const nlohmann::json& doc);

// The inputs of a report, read from files.
struct ReportInput {
  std::vector<client::Record> records;
  std::vector<OffloadSummary> offloads;
  std::vector<std::string> files;     // as given
  std::vector<std::string> warnings;  // "file:line: reason" for each skipped line
};

// Reads each file: a whole-file offload summary, or results JSONL (read by
// client::read_records: a malformed line is skipped with a warning). Throws
// std::runtime_error naming the file when one cannot be read.
ReportInput read_inputs(const std::vector<std::filesystem::path>& files);

// The records of one (collection, target, schedule, label), summarized.
// Means are over the successful records; nullopt when there are none.
struct GroupStats {
  std::string collection, target, schedule, label;
  size_t images = 0, ok = 0, failed = 0, resized = 0;
  double bytes_sent = 0;  // sum over records that report it
  std::optional<double> mean_inference_ms, mean_upload_ms, mean_total_ms, mean_bytes_sent;
  std::vector<double> totals_ms;  // successful records' totals, ascending
  bool is_local() const { return target == "local"; }
  // "local"; "local (in hybrid)" for a share of a hybrid/scale-out run;
  // then the run's label, if any: "http://h:5029 · 9.8 Mbit/s, 41 ms RTT".
  std::string target_label() const;
  std::string name() const;  // "small · local", "small · local (in hybrid)"
};

// Groups in first-appearance order of collection, local first within one,
// then targets, then labels, in first-appearance order.
std::vector<GroupStats> group_results(const std::vector<client::Record>& records);

// Value at quantile q in [0, 1] of ascending values (nearest rank).
double quantile(const std::vector<double>& ascending, double q);

// Empirical CDF of ascending values: (value, fraction of values <= value),
// one point per distinct value.
std::vector<std::pair<double, double>> cdf(const std::vector<double>& ascending);

// The cost model as a curve over bandwidth (cost_model.h, fixed RTT):
// T_remote(bw) = fixed_ms + bytes*8 / (bw_mbps*1000) ms.
struct BandwidthCurve {
  double fixed_ms = 0;
  double bytes_per_image = 0;
  double remote_ms(double bandwidth_mbps) const;
  // The bandwidth where remote takes local_ms; nullopt when no bandwidth
  // makes remote faster (fixed part alone >= local).
  std::optional<double> break_even_mbps(double local_ms) const;
};

// A remote group's model from its own results: everything but the upload
// is the fixed part, the mean bytes sent is the variable one. nullopt when
// the group lacks total, upload or bytes.
std::optional<BandwidthCurve> estimate_model(const GroupStats& remote);

// The bandwidth a remote group's uploads achieved (mean bytes over mean
// upload time), nullopt without both.
std::optional<double> measured_bandwidth_mbps(const GroupStats& remote);

// One sentence: which side has the lower mean total per collection (each
// side's fastest group; shares of hybrid or scale-out runs only for a side
// that has no run of its own).
std::string verdict_from_results(const std::vector<GroupStats>& groups);

// Failure messages with their counts, most frequent first ("target: message").
std::vector<std::pair<std::string, size_t>> failure_counts(const std::vector<client::Record>& records);

// The charts of the page, as data: what the page hands to Chart.js.
// kind: "bar" (labels + one value per label) or "xy" (points {x,y}).
struct Series {
  std::string label, color;
  std::vector<double> values;                     // bar
  std::vector<std::pair<double, double>> points;  // xy
  bool line = true;                               // xy: connect the points
  bool stepped = false;
  double point_radius = 0;
  std::string point_style = "circle";
  bool dashed = false;
};
struct ChartSpec {
  std::string id, title, kind, x_label, y_label;
  bool x_log = false, y_log = false;
  std::vector<std::string> labels;  // bar
  std::vector<Series> series;
  std::string note;  // shown under the chart
};

std::vector<ChartSpec> build_charts(const std::vector<GroupStats>& groups,
                                    const std::vector<OffloadSummary>& offloads);

// The whole page. `chart_js` is the charting library's source, inlined.
std::string render_html(const ReportInput& input, const std::string& chart_js);

// Chart.js as compiled into the binary (empty when the build had no
// node_modules/chart.js).
std::string embedded_chart_js();

}  // namespace lookout::offload
