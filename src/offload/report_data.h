// The offloading lab's report, its numbers: per-image results (JSONL from
// `lookout run`) and offload summaries (offload.json from `lookout offload`)
// in; groups, means, quantiles, the verdicts and the charts' data out. No
// HTML here: report_page.h draws what aggregate() returns.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/record.h"
#include "offload/chart_spec.h"
#include "offload/cost_model.h"
#include "offload/report_map.h"
#include "wire/map.h"
#include "wire/offload.h"

namespace lookout::offload {

// An offload summary and the file it came from.
struct OffloadInput {
  std::string source;  // file name, for labels and messages
  wire::OffloadSummary summary;
};

// A map (map.json from `lookout map`) and the file it came from.
struct MapInput {
  std::string source;
  wire::MapFile map;
};

// The inputs of a report, read from files.
struct ReportInput {
  std::vector<wire::Record> records;
  std::vector<OffloadInput> offloads;
  std::vector<MapInput> maps;
  std::vector<std::string> files;     // as given
  std::vector<std::string> warnings;  // "file:line: reason" for each skipped line
};

// Reads each file: a whole-file map (wire::looks_like_map) or offload
// summary (wire::looks_like_offload), each read strictly; or results JSONL (read by client::read_records: a
// malformed line is skipped with a warning). Throws std::runtime_error
// naming the file when one cannot be read, or naming the field when a map
// or an offload summary lacks one.
ReportInput read_inputs(const std::vector<std::filesystem::path>& files);

// The records of one (collection, target, schedule, label), summarized.
// Means and quantiles are over the successful records; nullopt when there
// are none.
struct GroupStats {
  std::string collection, target, schedule, label;
  size_t images = 0, ok = 0, failed = 0, resized = 0;
  double bytes_sent = 0;  // sum over records that report it
  std::optional<double> mean_inference_ms, mean_upload_ms, mean_total_ms, mean_bytes_sent;
  std::optional<double> median_total_ms, p95_total_ms;
  std::vector<double> totals_ms;  // successful records' totals, ascending
  bool is_local() const { return target == "local"; }
  // One side's share of a run that used several targets at once (hybrid or
  // scale-out): not what that target does alone.
  bool is_share() const { return schedule == "hybrid" || schedule == "scale-out"; }
  // "local"; "local (in hybrid)" for a share; then the run's label, if
  // any: "http://h:5029 · 9.8 Mbit/s, 41 ms RTT".
  std::string target_label() const;
  std::string name() const;  // "small · local", "small · local (in hybrid)"
};

// Groups in first-appearance order of collection; within one, runs of their
// own before shares, local first, then targets and labels in
// first-appearance order.
std::vector<GroupStats> group_results(const std::vector<wire::Record>& records);

// Value at quantile q in [0, 1] of ascending values (nearest rank).
double quantile(const std::vector<double>& ascending, double q);

// Empirical CDF of ascending values: (value, fraction of values <= value),
// one point per distinct value.
std::vector<std::pair<double, double>> cdf(const std::vector<double>& ascending);

// A remote group's cost model from its own results: the time beyond the
// upload is the fixed part, the mean bytes sent the variable one, at the
// bandwidth its uploads achieved. nullopt when the group lacks total,
// upload or bytes.
std::optional<CostModel> estimate_model(const GroupStats& remote);

// The bandwidth a remote group's uploads achieved (mean bytes over mean
// upload time), nullopt without both.
std::optional<double> measured_bandwidth_mbps(const GroupStats& remote);

// One sentence: which side has the lower mean total per collection (each
// side's fastest group; shares only for a side that has no run of its own).
std::string verdict_from_results(const std::vector<GroupStats>& groups);

// Failure messages with their counts, most frequent first ("target: message").
std::vector<std::pair<std::string, size_t>> failure_counts(const std::vector<wire::Record>& records);

// Means (bars), the CDF of totals, and the break-even curves: from the
// offload summaries' cost models when there are any, else estimated from
// the remote groups (estimate_model).
std::vector<ChartSpec> build_charts(const std::vector<GroupStats>& groups, const std::vector<OffloadInput>& offloads);

// Over all records.
struct ResultTotals {
  size_t results = 0, distinct_images = 0, ok = 0, failed = 0, resized = 0;
  double bytes_sent = 0;
};

// Everything the page shows, worked out.
struct ReportData {
  std::vector<std::string> files, warnings;
  std::vector<GroupStats> groups;
  // One sentence per offload summary (prefixed with its collection when
  // there are several); empty without summaries.
  std::vector<std::string> offload_verdicts;
  std::string results_verdict;
  ResultTotals totals;
  std::vector<std::pair<std::string, size_t>> failures;
  std::vector<OffloadInput> offloads;
  std::vector<ChartSpec> charts;
  std::vector<MapReport> maps;  // one per map file
};

ReportData aggregate(const ReportInput& input);

// v with `decimals` digits after the point: the page's number format.
std::string fixed_text(double v, int decimals);

}  // namespace lookout::offload
