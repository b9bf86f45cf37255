#include "offload/report_data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace lookout::offload {

namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Points on the break-even chart's model curves.
constexpr int kCurvePoints = 80;

// Distinct, saturated colours (Tableau 10 without its grey): series stay
// apart, and the browser check can tell drawn data from grey grid lines.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
                                    "#76b7b2", "#edc948", "#ff9da7", "#9c755f"};
constexpr size_t kPaletteSize = std::size(kPalette);

Series named_series(const std::string& label, const std::string& color) {
  Series s;
  s.label = label;
  s.color = color;
  return s;
}

ChartSpec chart_spec(const char* id, const char* title, const char* kind, const char* x_label, const char* y_label) {
  ChartSpec c;
  c.id = id;
  c.title = title;
  c.kind = kind;
  c.x_label = x_label;
  c.y_label = y_label;
  return c;
}

std::optional<double> mean_of(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// The break-even chart draws a validation run only with a time and a bandwidth.
std::vector<std::pair<double, double>> drawable_runs(const wire::OffloadSummary& s) {
  std::vector<std::pair<double, double>> points;
  for (const wire::OffloadSummary::Run& run : s.runs)
    if (run.bandwidth_mbps > 0 && run.ms_per_image > 0) points.emplace_back(run.bandwidth_mbps, run.ms_per_image);
  return points;
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  return text;
}

}  // namespace

ReportInput read_inputs(const std::vector<fs::path>& files) {
  ReportInput input;
  for (const fs::path& path : files) {
    input.files.push_back(path.string());
    const std::string text = read_whole_file(path);
    // A file that is one offload summary (pretty-printed over many lines).
    const wire::Json whole = wire::Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (wire::looks_like_map(whole)) {
      try {
        MapInput map{path.filename().string(), {}};
        wire::from_json(whole, map.map);
        input.maps.push_back(std::move(map));
      } catch (const wire::FormatError& e) {
        throw std::runtime_error(path.string() + ": not a map as `lookout map` writes it: " + e.what() +
                                 "; write it again with `lookout map`");
      }
      continue;
    }
    if (wire::looks_like_offload(whole)) {
      try {
        input.offloads.push_back({path.filename().string(), whole.get<wire::OffloadSummary>()});
      } catch (const wire::FormatError& e) {
        throw std::runtime_error(path.string() + ": not an offload summary as `lookout offload` writes it: " + e.what() +
                                 "; write it again with `lookout offload DIR --remote URL --json FILE`");
      }
      continue;
    }
    std::istringstream lines(text);
    std::vector<wire::Record> records = client::read_records(lines, path.string(), &input.warnings);
    std::move(records.begin(), records.end(), std::back_inserter(input.records));
  }
  return input;
}

std::string GroupStats::target_label() const {
  const std::string t = is_share() ? target + " (in " + schedule + ")" : target;
  return label.empty() ? t : t + " · " + label;
}

std::string GroupStats::name() const {
  return (collection.empty() ? std::string("(no collection)") : collection) + " · " + target_label();
}

std::vector<GroupStats> group_results(const std::vector<wire::Record>& records) {
  // First-appearance ranks of collections and targets, for a stable order.
  std::map<std::string, size_t> collection_rank, target_rank, label_rank;
  for (const wire::Record& r : records) {
    collection_rank.emplace(r.collection, collection_rank.size());
    target_rank.emplace(r.target, target_rank.size());
    label_rank.emplace(r.label, label_rank.size());
  }
  struct Acc {
    GroupStats stats;
    std::vector<double> inference, upload, total, bytes;
  };
  std::map<std::tuple<std::string, std::string, std::string, std::string>, Acc> by_key;
  for (const wire::Record& r : records) {
    Acc& a = by_key[{r.collection, r.target, r.schedule, r.label}];
    GroupStats& g = a.stats;
    g.collection = r.collection;
    g.target = r.target;
    g.schedule = r.schedule;
    g.label = r.label;
    ++g.images;
    if (r.resized()) ++g.resized;
    g.bytes_sent += static_cast<double>(r.bytes_sent);
    a.bytes.push_back(static_cast<double>(r.bytes_sent));
    if (!r.ok) {
      ++g.failed;
      continue;
    }
    ++g.ok;
    a.inference.push_back(r.timing.inference);
    a.upload.push_back(r.timing.upload);
    a.total.push_back(r.timing.total);
  }
  std::vector<GroupStats> groups;
  for (auto& [key, a] : by_key) {
    GroupStats& g = a.stats;
    g.mean_inference_ms = mean_of(a.inference);
    g.mean_upload_ms = mean_of(a.upload);
    g.mean_total_ms = mean_of(a.total);
    g.mean_bytes_sent = mean_of(a.bytes);
    std::sort(a.total.begin(), a.total.end());
    g.totals_ms = std::move(a.total);
    if (!g.totals_ms.empty()) {
      g.median_total_ms = quantile(g.totals_ms, 0.5);
      g.p95_total_ms = quantile(g.totals_ms, 0.95);
    }
    groups.push_back(std::move(g));
  }
  std::sort(groups.begin(), groups.end(), [&](const GroupStats& x, const GroupStats& y) {
    const auto order = [&](const GroupStats& g) {
      return std::make_tuple(collection_rank.at(g.collection), g.is_share(), !g.is_local(), target_rank.at(g.target),
                             label_rank.at(g.label));
    };
    return order(x) < order(y);
  });
  return groups;
}

double quantile(const std::vector<double>& ascending, double q) {
  if (ascending.empty()) return kNaN;
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(ascending.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return ascending[std::min(index, ascending.size() - 1)];
}

std::vector<std::pair<double, double>> cdf(const std::vector<double>& ascending) {
  std::vector<std::pair<double, double>> points;
  const double n = static_cast<double>(ascending.size());
  for (size_t i = 0; i < ascending.size(); ++i) {
    // One point per distinct value, at the fraction of values up to it.
    if (i + 1 < ascending.size() && ascending[i + 1] == ascending[i]) continue;
    points.emplace_back(ascending[i], static_cast<double>(i + 1) / n);
  }
  return points;
}

std::optional<CostModel> estimate_model(const GroupStats& remote) {
  if (!remote.mean_total_ms || !remote.mean_upload_ms || !remote.mean_bytes_sent) return std::nullopt;
  RemoteProfile profile;
  profile.url = remote.target;
  // Results do not split the time beyond the upload into round trip,
  // overhead and the server's part: all of it counts as the server's.
  profile.server_ms = std::max(0.0, *remote.mean_total_ms - *remote.mean_upload_ms);
  profile.mean_request_bytes = *remote.mean_bytes_sent;
  profile.bandwidth_mbps = measured_bandwidth_mbps(remote).value_or(0.0);
  return CostModel(LocalProfile{}, profile);
}

std::optional<double> measured_bandwidth_mbps(const GroupStats& remote) {
  if (!remote.mean_upload_ms || !remote.mean_bytes_sent || *remote.mean_upload_ms <= 0 || *remote.mean_bytes_sent <= 0)
    return std::nullopt;
  return *remote.mean_bytes_sent * 8.0 / (*remote.mean_upload_ms * 1000.0);
}

std::string verdict_from_results(const std::vector<GroupStats>& groups) {
  std::vector<std::string> collections;
  for (const GroupStats& g : groups)
    if (std::find(collections.begin(), collections.end(), g.collection) == collections.end())
      collections.push_back(g.collection);

  std::vector<std::string> local_only, remote_only, clauses;
  int local_wins = 0, remote_wins = 0;
  for (const std::string& c : collections) {
    // The fastest group of each side. A share counts only when its side
    // has no run of its own in this collection.
    bool local_alone = false, remote_alone = false;
    for (const GroupStats& g : groups)
      if (g.collection == c && g.mean_total_ms && !g.is_share()) (g.is_local() ? local_alone : remote_alone) = true;
    const GroupStats* local = nullptr;
    const GroupStats* remote = nullptr;
    for (const GroupStats& g : groups) {
      if (g.collection != c || !g.mean_total_ms) continue;
      if (g.is_share() && (g.is_local() ? local_alone : remote_alone)) continue;
      const GroupStats*& best = g.is_local() ? local : remote;
      if (best == nullptr || *g.mean_total_ms < *best->mean_total_ms) best = &g;
    }
    const std::string name = c.empty() ? "(no collection)" : c;
    if (local && !remote) local_only.push_back(name + " " + fixed_text(*local->mean_total_ms, 1) + " ms");
    if (remote && !local) remote_only.push_back(name + " " + fixed_text(*remote->mean_total_ms, 1) + " ms");
    if (!local || !remote) continue;
    const double l = *local->mean_total_ms, r = *remote->mean_total_ms;
    const bool local_faster = l <= r;
    (local_faster ? local_wins : remote_wins)++;
    clauses.push_back("on " + name + " " + (local_faster ? "local" : remote->target_label()) + " wins with " +
                      fixed_text(std::min(l, r), 1) + " ms per image against " + fixed_text(std::max(l, r), 1) + " ms " +
                      (local_faster ? "on " + remote->target_label() : std::string("locally")) + " (" +
                      fixed_text(std::max(l, r) / std::max(std::min(l, r), 1e-9), 1) + "x)");
  }
  const auto join = [](const std::vector<std::string>& parts) {
    std::string s;
    for (const std::string& p : parts) s += (s.empty() ? "" : "; ") + p;
    return s;
  };
  if (!clauses.empty()) {
    const std::string lead = remote_wins == 0 ? "Run locally: " : local_wins == 0 ? "Offload: " : "It depends on the collection: ";
    return lead + join(clauses) + ".";
  }
  if (!local_only.empty() && remote_only.empty())
    return "Only local runs succeeded (" + join(local_only) + " per image): add a remote target " +
           "(lookout run DIR --target local --target http://HOST:5029) to compare.";
  if (!remote_only.empty() && local_only.empty())
    return "Only remote runs succeeded (" + join(remote_only) + " per image): add --target local to compare.";
  if (!local_only.empty())
    return "Local and remote ran on different collections (local: " + join(local_only) + "; remote: " +
           join(remote_only) + "): run both on the same collection to compare.";
  return "No image succeeded, so there is nothing to compare: see the failures below.";
}

std::vector<std::pair<std::string, size_t>> failure_counts(const std::vector<wire::Record>& records) {
  std::map<std::string, size_t> counts;
  for (const wire::Record& r : records) {
    if (r.ok) continue;
    std::string message = r.error;
    if (message.empty()) message = r.status ? "status " + std::to_string(r.status) + ", no message" : "no message";
    ++counts[r.target + ": " + message];
  }
  std::vector<std::pair<std::string, size_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return sorted;
}

namespace {

// The x range of the break-even chart: whole decades around 1..1000 Mbit/s
// and every measured point.
std::pair<double, double> bandwidth_range(const std::vector<double>& xs) {
  double lo = 1, hi = 1000;
  for (double x : xs) {
    if (!std::isfinite(x) || x <= 0) continue;  // not on a log axis
    lo = std::min(lo, x / 2);
    hi = std::max(hi, x * 2);
  }
  return {std::pow(10.0, std::floor(std::log10(lo))), std::pow(10.0, std::ceil(std::log10(hi)))};
}

// The model's time per image over bandwidth, at its own RTT.
Series curve(const std::string& label, const std::string& color, const CostModel& model, double lo, double hi) {
  Series s = named_series(label, color);
  for (int i = 0; i < kCurvePoints; ++i) {
    const double bw = lo * std::pow(hi / lo, static_cast<double>(i) / (kCurvePoints - 1));
    s.points.emplace_back(bw, model.remote_ms_at(bw, model.remote().rtt_ms));
  }
  return s;
}

// "12.3 ms + 161 kB / bandwidth"
std::string model_text(const CostModel& model) {
  return fixed_text(model.fixed_ms(), 1) + " ms + " + fixed_text(model.bytes_per_image() / 1000, 0) + " kB / bandwidth";
}

Series flat(const std::string& label, const std::string& color, double ms, double lo, double hi) {
  Series s = named_series(label, color);
  s.points = {{lo, ms}, {hi, ms}};
  s.dashed = true;
  return s;
}

Series markers(const std::string& label, const std::string& color, std::vector<std::pair<double, double>> points,
               const char* style, double radius) {
  Series s = named_series(label, color);
  s.points = std::move(points);
  s.line = false;
  s.point_style = style;
  s.point_radius = radius;
  return s;
}

std::string suffix(const std::string& collection, bool several) {
  return several && !collection.empty() ? " (" + collection + ")" : std::string();
}

ChartSpec break_even_chart(const std::vector<GroupStats>& groups, const std::vector<OffloadInput>& offloads) {
  ChartSpec chart = chart_spec("break-even", "Break-even: time per image vs upload bandwidth", "xy",
                               "upload bandwidth (Mbit/s, log scale)", "time per image (ms, log scale)");
  chart.x_log = chart.y_log = true;
  size_t colour = 0;
  const auto next_colour = [&] { return kPalette[colour++ % kPaletteSize]; };

  if (!offloads.empty()) {
    std::vector<CostModel> models;
    std::vector<double> xs;
    for (const OffloadInput& o : offloads) {
      const CostModel& model = models.emplace_back(CostModel::from_summary(o.summary));
      for (const auto& [bw, ms] : drawable_runs(o.summary)) xs.push_back(bw);
      if (auto bw = model.break_even_bandwidth_mbps()) xs.push_back(*bw);
    }
    const auto [lo, hi] = bandwidth_range(xs);
    const bool several = offloads.size() > 1;
    for (size_t i = 0; i < offloads.size(); ++i) {
      const CostModel& model = models[i];
      const std::string c = suffix(offloads[i].summary.collection, several);
      const double local_ms = model.local().ms_per_image;
      chart.series.push_back(flat("local" + c + ": " + fixed_text(local_ms, 1) + " ms", next_colour(), local_ms, lo, hi));
      chart.series.push_back(curve("remote model" + c + ": " + model_text(model), next_colour(), model, lo, hi));
      const std::vector<std::pair<double, double>> measured = drawable_runs(offloads[i].summary);
      if (!measured.empty()) chart.series.push_back(markers("measured runs" + c, next_colour(), measured, "rectRot", 7));
      if (auto bw = model.break_even_bandwidth_mbps())
        chart.series.push_back(markers("break-even" + c + ": " + fixed_text(*bw, 1) + " Mbit/s", next_colour(),
                                       {{*bw, local_ms}}, "crossRot", 10));
    }
    chart.note = "Remote time per image from the cost model T = fixed + bytes × 8 / bandwidth of `lookout offload`; "
                 "local does not depend on the link. Where the curve drops below the local line, offloading pays.";
    return chart;
  }

  // No offload summary: the model estimated from each remote group's own
  // results (fixed = mean total - mean upload; bytes = mean bytes sent).
  std::vector<double> xs;
  for (const GroupStats& g : groups)
    if (!g.is_local())
      if (auto bw = measured_bandwidth_mbps(g)) xs.push_back(*bw);
  const auto [lo, hi] = bandwidth_range(xs);
  std::set<std::string> collections;
  for (const GroupStats& g : groups) collections.insert(g.collection);
  const bool several = collections.size() > 1;
  bool any_curve = false;
  for (const GroupStats& g : groups) {
    const std::string c = suffix(g.collection, several);
    if (g.is_local()) {
      if (g.mean_total_ms)
        chart.series.push_back(flat("local" + c + ": " + fixed_text(*g.mean_total_ms, 1) + " ms", next_colour(),
                                    *g.mean_total_ms, lo, hi));
      continue;
    }
    const auto model = estimate_model(g);
    if (!model) continue;
    any_curve = true;
    chart.series.push_back(curve(g.target + c + " model: " + model_text(*model), next_colour(), *model, lo, hi));
    if (auto bw = measured_bandwidth_mbps(g))
      chart.series.push_back(markers(g.target + c + " measured", next_colour(), {{*bw, *g.mean_total_ms}}, "rectRot", 7));
  }
  if (!any_curve) chart.series.clear();
  chart.note = "No offload summary given: each remote curve is estimated from its results (fixed part = mean total − "
               "mean upload, variable part = mean bytes sent), and its point sits at the bandwidth its uploads "
               "achieved. `lookout offload` measures the link properly.";
  return chart;
}

}  // namespace

std::vector<ChartSpec> build_charts(const std::vector<GroupStats>& groups, const std::vector<OffloadInput>& offloads) {
  std::vector<ChartSpec> charts;

  ChartSpec means = chart_spec("means", "Mean time per image by collection and target", "bar", "collection · target",
                               "mean time per image (ms)");
  Series inference = named_series("inference", kPalette[0]), upload = named_series("upload", kPalette[1]),
         total = named_series("total", kPalette[3]);
  for (const GroupStats& g : groups) {
    means.labels.push_back(g.name());
    inference.values.push_back(g.mean_inference_ms.value_or(kNaN));
    upload.values.push_back(g.mean_upload_ms.value_or(kNaN));
    total.values.push_back(g.mean_total_ms.value_or(kNaN));
  }
  means.series = {inference, upload, total};
  means.note = "The original experiment's Figure 2: inference is the detector's time, upload the time to send the "
               "image (0 locally), total what a user waits per image.";
  charts.push_back(std::move(means));

  ChartSpec distribution = chart_spec("cdf", "Distribution of total time per image (CDF)", "xy",
                                      "total time per image (ms)", "fraction of images at or below");
  // A log axis when the times span more than a decade (local vs a slow
  // link), a linear one otherwise (log ticks would be too sparse).
  double fastest = std::numeric_limits<double>::infinity(), slowest = 0;
  for (const GroupStats& g : groups) {
    if (g.totals_ms.empty()) continue;
    fastest = std::min(fastest, g.totals_ms.front());
    slowest = std::max(slowest, g.totals_ms.back());
  }
  if (fastest > 0 && slowest > 10 * fastest) {
    distribution.x_log = true;
    distribution.x_label = "total time per image (ms, log scale)";
  }
  size_t colour = 0;
  for (const GroupStats& g : groups) {
    if (g.totals_ms.empty()) continue;
    Series s = named_series(g.name(), kPalette[colour++ % kPaletteSize]);
    // From 0 at the fastest image, so the first step is drawn too.
    s.points = cdf(g.totals_ms);
    s.points.insert(s.points.begin(), {g.totals_ms.front(), 0.0});
    s.stepped = true;
    distribution.series.push_back(std::move(s));
  }
  distribution.note = "Each step is one image; a curve further left is faster, a long tail to the right means "
                      "some images waited much longer than the mean.";
  if (!distribution.series.empty()) charts.push_back(std::move(distribution));

  // Without a remote curve (no offload summary, no usable remote results)
  // there is nothing to break even with.
  ChartSpec break_even = break_even_chart(groups, offloads);
  if (!break_even.series.empty()) charts.push_back(std::move(break_even));
  return charts;
}


ReportData aggregate(const ReportInput& input) {
  ReportData d;
  d.files = input.files;
  d.warnings = input.warnings;
  d.offloads = input.offloads;
  d.groups = group_results(input.records);
  // A report of maps alone has no results to chart.
  if (!input.records.empty()) d.charts = build_charts(d.groups, input.offloads);
  for (size_t i = 0; i < input.maps.size(); ++i) d.maps.push_back(map_report(input.maps[i].source, input.maps[i].map, i));
  d.results_verdict = verdict_from_results(d.groups);
  for (const OffloadInput& o : input.offloads) {
    const std::string& collection = o.summary.collection;
    const std::string prefix = input.offloads.size() > 1 && !collection.empty() ? collection + ": " : "";
    d.offload_verdicts.push_back(prefix + (o.summary.verdict.empty() ? "(no verdict in " + o.source + ")" : o.summary.verdict));
  }
  std::set<std::string> images;
  ResultTotals& t = d.totals;
  for (const wire::Record& r : input.records) {
    (r.ok ? t.ok : t.failed)++;
    if (r.resized()) ++t.resized;
    t.bytes_sent += static_cast<double>(r.bytes_sent);
    images.insert(r.collection + "/" + r.image);
  }
  t.results = input.records.size();
  t.distinct_images = images.size();
  d.failures = failure_counts(input.records);
  return d;
}

std::string fixed_text(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace lookout::offload
