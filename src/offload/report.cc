// The offloading lab's report: reading results and offload summaries,
// aggregating them, and rendering one self-contained HTML page.
#include "offload/report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

#ifdef LOOKOUT_HAVE_CHART_JS
#include "report_assets.h"
#endif

namespace lookout::offload {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Points on the break-even chart's model curves.
constexpr int kCurvePoints = 80;
// At most this many skipped-line warnings are listed in the page.
constexpr size_t kMaxWarningsShown = 20;

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

std::optional<double> number_at(const json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string string_at(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<double> mean_of(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string ms(const std::optional<double>& v) { return v ? fixed(*v, 1) : std::string("–"); }

// SI megabytes, as link speeds are SI too.
std::string megabytes(double bytes) { return fixed(bytes / 1e6, bytes < 1e7 ? 2 : 1) + " MB"; }

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  return text;
}

}  // namespace

bool looks_like_offload(const json& doc) {
  return doc.is_object() && (doc.contains("model") || doc.contains("verdict"));
}

OffloadSummary parse_offload(const json& doc, const std::string& source) {
  if (!doc.is_object()) throw std::invalid_argument(source + ": an offload summary must be a JSON object");
  OffloadSummary s;
  s.source = source;
  s.collection = string_at(doc, "collection");
  s.images = number_at(doc, "images");
  if (doc.contains("local")) s.local_ms = number_at(doc["local"], "ms_per_image");
  if (doc.contains("remote")) {
    const json& remote = doc["remote"];
    s.remote_url = string_at(remote, "url");
    s.remote_ms = number_at(remote, "ms_per_image");
    s.remote_bandwidth_mbps = number_at(remote, "bandwidth_mbps");
    s.remote_rtt_ms = number_at(remote, "rtt_ms");
  }
  if (doc.contains("model")) {
    s.model_fixed_ms = number_at(doc["model"], "fixed_ms");
    s.model_bytes_per_image = number_at(doc["model"], "bytes_per_image");
  }
  if (!s.model_fixed_ms || !s.model_bytes_per_image)
    throw std::invalid_argument(source + ": no cost model (\"model\": {\"fixed_ms\", \"bytes_per_image\"}); " +
                                "write it again with `lookout offload DIR --remote URL --json FILE`");
  if (doc.contains("break_even")) {
    s.break_even_mbps = number_at(doc["break_even"], "bandwidth_mbps");
    s.break_even_rtt_ms = number_at(doc["break_even"], "rtt_ms");
  }
  s.verdict = string_at(doc, "verdict");
  if (doc.contains("hybrid") && doc["hybrid"].is_object()) {
    s.hybrid_predicted_s = number_at(doc["hybrid"], "predicted_s");
    s.hybrid_measured_s = number_at(doc["hybrid"], "measured_s");
  }
  if (doc.contains("runs") && doc["runs"].is_array()) {
    for (const json& run : doc["runs"]) {
      const auto bw = number_at(run, "bandwidth_mbps");
      const auto t = number_at(run, "ms_per_image");
      if (bw && t && *bw > 0 && *t > 0) s.runs.push_back({string_at(run, "label"), *bw, *t});
    }
  }
  return s;
}

ReportInput read_inputs(const std::vector<fs::path>& files) {
  ReportInput input;
  for (const fs::path& path : files) {
    input.files.push_back(path.string());
    const std::string text = read_whole_file(path);
    // A file that is one offload summary (pretty-printed over many lines).
    const json whole = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (looks_like_offload(whole)) {
      try {
        input.offloads.push_back(parse_offload(whole, path.filename().string()));
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
      }
      continue;
    }
    std::istringstream lines(text);
    std::vector<client::Record> records = client::read_records(lines, path.string(), &input.warnings);
    std::move(records.begin(), records.end(), std::back_inserter(input.records));
  }
  return input;
}

std::string GroupStats::target_label() const {
  // A target's share of a hybrid or scale-out run is not the target alone.
  const std::string t = schedule == "hybrid" || schedule == "scale-out" ? target + " (in " + schedule + ")" : target;
  return label.empty() ? t : t + " · " + label;
}

std::string GroupStats::name() const {
  return (collection.empty() ? std::string("(no collection)") : collection) + " · " + target_label();
}

std::vector<GroupStats> group_results(const std::vector<client::Record>& records) {
  // First-appearance ranks of collections and targets, for a stable order.
  std::map<std::string, size_t> collection_rank, target_rank, label_rank;
  for (const client::Record& r : records) {
    collection_rank.emplace(r.collection, collection_rank.size());
    target_rank.emplace(r.target, target_rank.size());
    label_rank.emplace(r.label, label_rank.size());
  }
  struct Acc {
    GroupStats stats;
    std::vector<double> inference, upload, total, bytes;
  };
  std::map<std::tuple<std::string, std::string, std::string, std::string>, Acc> by_key;
  for (const client::Record& r : records) {
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
    groups.push_back(std::move(g));
  }
  std::sort(groups.begin(), groups.end(), [&](const GroupStats& x, const GroupStats& y) {
    const auto order = [&](const GroupStats& g) {
      const bool shared = g.schedule == "hybrid" || g.schedule == "scale-out";
      return std::make_tuple(collection_rank.at(g.collection), shared, !g.is_local(), target_rank.at(g.target),
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

double BandwidthCurve::remote_ms(double bandwidth_mbps) const {
  return fixed_ms + bytes_per_image * 8.0 / (bandwidth_mbps * 1000.0);
}

std::optional<double> BandwidthCurve::break_even_mbps(double local_ms) const {
  if (local_ms <= fixed_ms || bytes_per_image <= 0) return std::nullopt;
  return bytes_per_image * 8.0 / (1000.0 * (local_ms - fixed_ms));
}

std::optional<BandwidthCurve> estimate_model(const GroupStats& remote) {
  if (!remote.mean_total_ms || !remote.mean_upload_ms || !remote.mean_bytes_sent) return std::nullopt;
  return BandwidthCurve{std::max(0.0, *remote.mean_total_ms - *remote.mean_upload_ms), *remote.mean_bytes_sent};
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
    // The fastest group of each side. A side's share of a hybrid or
    // scale-out run is not that side alone: it counts only when the side
    // has no run of its own in this collection.
    const auto shared = [](const GroupStats& g) { return g.schedule == "hybrid" || g.schedule == "scale-out"; };
    bool local_alone = false, remote_alone = false;
    for (const GroupStats& g : groups)
      if (g.collection == c && g.mean_total_ms && !shared(g)) (g.is_local() ? local_alone : remote_alone) = true;
    const GroupStats* local = nullptr;
    const GroupStats* remote = nullptr;
    for (const GroupStats& g : groups) {
      if (g.collection != c || !g.mean_total_ms) continue;
      if (shared(g) && (g.is_local() ? local_alone : remote_alone)) continue;
      const GroupStats*& best = g.is_local() ? local : remote;
      if (best == nullptr || *g.mean_total_ms < *best->mean_total_ms) best = &g;
    }
    const std::string name = c.empty() ? "(no collection)" : c;
    if (local && !remote) local_only.push_back(name + " " + fixed(*local->mean_total_ms, 1) + " ms");
    if (remote && !local) remote_only.push_back(name + " " + fixed(*remote->mean_total_ms, 1) + " ms");
    if (!local || !remote) continue;
    const double l = *local->mean_total_ms, r = *remote->mean_total_ms;
    const bool local_faster = l <= r;
    (local_faster ? local_wins : remote_wins)++;
    clauses.push_back("on " + name + " " + (local_faster ? "local" : remote->target_label()) + " wins with " +
                      fixed(std::min(l, r), 1) + " ms per image against " + fixed(std::max(l, r), 1) + " ms " +
                      (local_faster ? "on " + remote->target_label() : std::string("locally")) + " (" +
                      fixed(std::max(l, r) / std::max(std::min(l, r), 1e-9), 1) + "x)");
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

std::vector<std::pair<std::string, size_t>> failure_counts(const std::vector<client::Record>& records) {
  std::map<std::string, size_t> counts;
  for (const client::Record& r : records) {
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

Series curve(const std::string& label, const std::string& color, const BandwidthCurve& model, double lo, double hi) {
  Series s = named_series(label, color);
  for (int i = 0; i < kCurvePoints; ++i) {
    const double bw = lo * std::pow(hi / lo, static_cast<double>(i) / (kCurvePoints - 1));
    s.points.emplace_back(bw, model.remote_ms(bw));
  }
  return s;
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

ChartSpec break_even_chart(const std::vector<GroupStats>& groups, const std::vector<OffloadSummary>& offloads) {
  ChartSpec chart = chart_spec("break-even", "Break-even: time per image vs upload bandwidth", "xy",
                               "upload bandwidth (Mbit/s, log scale)", "time per image (ms, log scale)");
  chart.x_log = chart.y_log = true;
  size_t colour = 0;
  const auto next_colour = [&] { return kPalette[colour++ % kPaletteSize]; };

  if (!offloads.empty()) {
    std::vector<double> xs;
    for (const OffloadSummary& o : offloads) {
      for (const auto& run : o.runs) xs.push_back(run.bandwidth_mbps);
      if (o.break_even_mbps) xs.push_back(*o.break_even_mbps);
    }
    const auto [lo, hi] = bandwidth_range(xs);
    const bool several = offloads.size() > 1;
    for (const OffloadSummary& o : offloads) {
      const std::string c = suffix(o.collection, several);
      const BandwidthCurve model{*o.model_fixed_ms, *o.model_bytes_per_image};
      if (o.local_ms)
        chart.series.push_back(flat("local" + c + ": " + fixed(*o.local_ms, 1) + " ms", next_colour(), *o.local_ms, lo, hi));
      chart.series.push_back(curve("remote model" + c + ": " + fixed(model.fixed_ms, 1) + " ms + " +
                                       fixed(model.bytes_per_image / 1000, 0) + " kB / bandwidth",
                                   next_colour(), model, lo, hi));
      std::vector<std::pair<double, double>> measured;
      for (const auto& run : o.runs) measured.emplace_back(run.bandwidth_mbps, run.ms_per_image);
      if (!measured.empty()) chart.series.push_back(markers("measured runs" + c, next_colour(), measured, "rectRot", 7));
      if (o.break_even_mbps && o.local_ms)
        chart.series.push_back(markers("break-even" + c + ": " + fixed(*o.break_even_mbps, 1) + " Mbit/s", next_colour(),
                                       {{*o.break_even_mbps, *o.local_ms}}, "crossRot", 10));
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
        chart.series.push_back(flat("local" + c + ": " + fixed(*g.mean_total_ms, 1) + " ms", next_colour(),
                                    *g.mean_total_ms, lo, hi));
      continue;
    }
    const auto model = estimate_model(g);
    if (!model) continue;
    any_curve = true;
    chart.series.push_back(curve(g.target + c + " model: " + fixed(model->fixed_ms, 1) + " ms + " +
                                     fixed(model->bytes_per_image / 1000, 0) + " kB / bandwidth",
                                 next_colour(), *model, lo, hi));
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

std::vector<ChartSpec> build_charts(const std::vector<GroupStats>& groups, const std::vector<OffloadSummary>& offloads) {
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

namespace {

json chart_json(const ChartSpec& chart) {
  json series = json::array();
  for (const Series& s : chart.series) {
    json points = json::array();
    for (const auto& [x, y] : s.points) points.push_back({x, y});
    series.push_back({{"label", s.label},
                      {"color", s.color},
                      {"values", s.values},  // NaN -> null: Chart.js leaves a gap
                      {"points", points},
                      {"line", s.line},
                      {"stepped", s.stepped},
                      {"pointRadius", s.point_radius},
                      {"pointStyle", s.point_style},
                      {"dashed", s.dashed}});
  }
  return {{"id", chart.id},         {"title", chart.title},   {"kind", chart.kind},     {"xLabel", chart.x_label},
          {"yLabel", chart.y_label}, {"xLog", chart.x_log},   {"yLog", chart.y_log},    {"labels", chart.labels},
          {"series", series}};
}

// JSON inside <script>: every "<" as \u003c (it only occurs in strings),
// so no "</script>" or "<!--" in the data can end the element early.
std::string json_for_script(const json& data) {
  std::string text = data.dump();
  for (size_t at = text.find('<'); at != std::string::npos; at = text.find('<', at)) text.replace(at, 1, "\\u003c");
  return text;
}

// Code inside <script>: "</script" can only sit in a string literal there,
// where "<\/script" means the same.
std::string script_safe(std::string code) {
  const auto lower_at = [&](size_t at) {
    std::string s = code.substr(at, 8);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  for (size_t at = code.find("</"); at != std::string::npos; at = code.find("</", at + 2))
    if (lower_at(at) == "</script") code.replace(at, 2, "<\\/");
  return code;
}

// The library without its source-map comment, so that not even an open
// developer console asks for the .map file.
std::string without_source_map(std::string js) {
  const size_t at = js.rfind("//# sourceMappingURL=");
  if (at != std::string::npos) js.erase(at);
  return js;
}

constexpr const char* kStyle = R"css(
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --panel: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0 0 8px; }
.meta { color: var(--muted); margin: 0; font-size: 13px; }
.verdict { background: #eef6ee; border-left: 5px solid #59a14f; padding: 12px 16px; font-size: 17px; margin: 20px 0 4px; }
.verdict p { margin: 4px 0; }
.verdict .secondary { font-size: 14px; color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 10px; text-align: right; }
th { background: var(--panel); font-weight: 600; }
td.text, th.text { text-align: left; }
.wide { overflow-x: auto; }
.charts { display: grid; grid-template-columns: 1fr; gap: 22px; }
figure { margin: 0; padding: 14px 16px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.chart-box { position: relative; height: 380px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.warnings { color: #8a4b08; font-size: 13px; }
code { background: var(--panel); padding: 0 3px; border-radius: 3px; }
)css";

// Turns the page's chart specs into Chart.js charts; marks the body when
// done so that a browser check knows when to look.
constexpr const char* kPageScript = R"js(
(function () {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  Chart.defaults.font.size = 13;
  Chart.defaults.color = '#1f2933';
  // Log axes: label only 1, 2 and 5 times a power of ten.
  const logTick = function (value) {
    const m = value / Math.pow(10, Math.floor(Math.log10(value) + 1e-9));
    return [1, 2, 5].some(k => Math.abs(m - k) < 1e-6) ? Number(value.toPrecision(3)).toLocaleString('en-US') : '';
  };
  const axis = (log, title, extra) => Object.assign({
    type: log ? 'logarithmic' : 'linear',
    title: { display: true, text: title, font: { size: 13, weight: '600' } },
    ticks: log ? { callback: logTick, autoSkip: false, maxRotation: 0 } : {},
  }, extra);
  for (const spec of data.charts) {
    const canvas = document.getElementById('chart-' + spec.id);
    const bar = spec.kind === 'bar';
    const datasets = spec.series.map(s => bar ? {
      label: s.label, data: s.values, backgroundColor: s.color, borderColor: s.color,
    } : {
      label: s.label, data: s.points.map(p => ({ x: p[0], y: p[1] })),
      borderColor: s.color, backgroundColor: s.color, showLine: s.line, borderWidth: 2.5,
      stepped: s.stepped ? 'after' : false, pointRadius: s.pointRadius, pointHoverRadius: s.pointRadius + 3,
      pointStyle: s.pointStyle, borderDash: s.dashed ? [8, 5] : [],
    });
    new Chart(canvas, {
      type: bar ? 'bar' : 'scatter',
      data: { labels: spec.labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { position: 'bottom', labels: { usePointStyle: !bar, padding: 14 } } },
        scales: {
          x: bar ? { title: { display: true, text: spec.xLabel, font: { size: 13, weight: '600' } } }
                 : axis(spec.xLog, spec.xLabel, {}),
          y: axis(spec.yLog, spec.yLabel, bar ? { beginAtZero: true } : (spec.id === 'cdf' ? { min: 0, max: 1 } : {})),
        },
      },
    });
  }
  document.body.dataset.chartsReady = 'true';
})();
)js";

// One row per (collection, target): the original Table 3 had one column
// each, which does not fit once there are more than a few.
void render_table3(std::ostringstream& html, const std::vector<GroupStats>& groups) {
  html << "<div class=\"wide\"><table><tr><th class=\"text\">collection</th><th class=\"text\">target</th>"
          "<th>inference ms</th><th>upload ms</th><th>total ms</th><th>images ok</th></tr>";
  for (const GroupStats& g : groups)
    html << "<tr><td class=\"text\">" << html_escape(g.collection) << "</td><td class=\"text\">" << html_escape(g.target_label())
         << "</td><td>" << ms(g.mean_inference_ms) << "</td><td>" << ms(g.mean_upload_ms) << "</td><td><b>"
         << ms(g.mean_total_ms) << "</b></td><td>" << g.ok << " of " << g.images << "</td></tr>";
  html << "</table></div>\n";
}

// "1 line", "2 lines".
std::string count_of(size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

void render_runs(std::ostringstream& html, const ReportInput& input, const std::vector<GroupStats>& groups) {
  size_t ok = 0, failed = 0, resized = 0;
  double bytes = 0;
  std::set<std::string> images;
  for (const client::Record& r : input.records) {
    (r.ok ? ok : failed)++;
    if (r.resized()) ++resized;
    bytes += static_cast<double>(r.bytes_sent);
    images.insert(r.collection + "/" + r.image);
  }
  html << "<p>" << count_of(input.records.size(), "result", "results") << " for "
       << count_of(images.size(), "distinct image", "distinct images") << ": " << ok << " succeeded, " << failed
       << " failed; " << megabytes(bytes) << " sent; " << count_of(resized, "upload", "uploads")
       << " resized before sending";
  if (!input.warnings.empty()) html << "; " << count_of(input.warnings.size(), "malformed line", "malformed lines") << " skipped";
  html << ".</p>\n";

  html << "<div class=\"wide\"><table><tr><th class=\"text\">collection</th><th class=\"text\">target</th>"
          "<th class=\"text\">schedule</th><th class=\"text\">label</th>"
          "<th>images</th><th>ok</th><th>failed</th><th>sent</th><th>resized</th>"
          "<th>median total ms</th><th>p95 total ms</th></tr>";
  for (const GroupStats& g : groups) {
    const auto q = [&](double p) {
      return g.totals_ms.empty() ? std::string("–") : fixed(quantile(g.totals_ms, p), 1);
    };
    html << "<tr><td class=\"text\">" << html_escape(g.collection) << "</td><td class=\"text\">" << html_escape(g.target)
         << "</td><td class=\"text\">" << html_escape(g.schedule) << "</td><td class=\"text\">" << html_escape(g.label)
         << "</td><td>" << g.images << "</td><td>" << g.ok
         << "</td><td>" << g.failed << "</td><td>" << megabytes(g.bytes_sent) << "</td><td>" << g.resized << "</td><td>"
         << q(0.5) << "</td><td>" << q(0.95) << "</td></tr>";
  }
  html << "</table></div>\n";

  const auto failures = failure_counts(input.records);
  if (!failures.empty()) {
    html << "<h3>Failures</h3><table><tr><th class=\"text\">target: message</th><th>images</th></tr>";
    for (const auto& [message, count] : failures)
      html << "<tr><td class=\"text\">" << html_escape(message) << "</td><td>" << count << "</td></tr>";
    html << "</table>\n";
  }

  for (const OffloadSummary& o : input.offloads) {
    html << "<h3>Offload measurement: " << html_escape(o.collection.empty() ? o.source : o.collection) << "</h3><p>";
    if (o.images) html << fixed(*o.images, 0) << " images; ";
    html << "local " << ms(o.local_ms) << " ms per image; remote " << html_escape(o.remote_url) << " " << ms(o.remote_ms)
         << " ms per image";
    if (o.remote_rtt_ms) html << ", RTT " << fixed(*o.remote_rtt_ms, 1) << " ms";
    if (o.remote_bandwidth_mbps) html << ", " << fixed(*o.remote_bandwidth_mbps, 1) << " Mbit/s";
    html << "; model " << fixed(*o.model_fixed_ms, 1) << " ms + " << fixed(*o.model_bytes_per_image / 1000, 1)
         << " kB / bandwidth; break-even "
         << (o.break_even_mbps ? fixed(*o.break_even_mbps, 1) + " Mbit/s" : std::string("none (remote never pays)"));
    if (o.break_even_rtt_ms) html << " or RTT " << fixed(*o.break_even_rtt_ms, 1) << " ms";
    if (o.hybrid_predicted_s && o.hybrid_measured_s)
      html << "; hybrid schedule " << fixed(*o.hybrid_predicted_s, 2) << " s predicted, " << fixed(*o.hybrid_measured_s, 2)
           << " s measured";
    html << ".</p>\n";
  }

  if (!input.warnings.empty()) {
    html << "<h3>Skipped lines</h3><ul class=\"warnings\">";
    for (size_t i = 0; i < input.warnings.size() && i < kMaxWarningsShown; ++i)
      html << "<li>" << html_escape(input.warnings[i]) << "</li>";
    if (input.warnings.size() > kMaxWarningsShown)
      html << "<li>and " << input.warnings.size() - kMaxWarningsShown << " more</li>";
    html << "</ul>\n";
  }
}

}  // namespace

std::string render_html(const ReportInput& input, const std::string& chart_js) {
  const std::vector<GroupStats> groups = group_results(input.records);
  const std::vector<ChartSpec> charts = build_charts(groups, input.offloads);

  std::ostringstream html;
  html << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>Lookout offloading report</title>\n<style>"
       << kStyle << "</style></head>\n<body><main>\n<h1>Lookout offloading report</h1>\n<p class=\"meta\">From ";
  for (size_t i = 0; i < input.files.size(); ++i) html << (i ? ", " : "") << "<code>" << html_escape(input.files[i]) << "</code>";
  html << ".</p>\n";

  html << "<section class=\"verdict\" id=\"verdict\">";
  const std::string from_results = verdict_from_results(groups);
  if (input.offloads.empty()) {
    html << "<p>" << html_escape(from_results) << "</p>";
  } else {
    for (const OffloadSummary& o : input.offloads) {
      const std::string prefix = input.offloads.size() > 1 && !o.collection.empty() ? o.collection + ": " : "";
      const std::string verdict = o.verdict.empty() ? "(no verdict in " + o.source + ")" : o.verdict;
      html << "<p>" << html_escape(prefix + verdict) << "</p>";
    }
    html << "<p class=\"secondary\">From the results: " << html_escape(from_results) << "</p>";
  }
  html << "</section>\n";

  html << "<h2>Mean time per image</h2>\n";
  render_table3(html, groups);
  html << "<p class=\"meta\">The original experiment's Table 3 (one row per collection and target), in "
          "milliseconds: means over the images that succeeded.</p>\n";

  html << "<h2>Charts</h2>\n<div class=\"charts\">\n";
  for (const ChartSpec& c : charts) {
    html << "<figure><h3>" << html_escape(c.title) << "</h3><div class=\"chart-box\"><canvas id=\"chart-" << c.id
         << "\" role=\"img\" aria-label=\"" << html_escape(c.title) << "\"></canvas></div><figcaption>"
         << html_escape(c.note) << "</figcaption></figure>\n";
  }
  html << "</div>\n<h2>What was run</h2>\n";
  render_runs(html, input, groups);
  html << "</main>\n";

  json data = {{"charts", json::array()}};
  for (const ChartSpec& c : charts) data["charts"].push_back(chart_json(c));
  html << "<script type=\"application/json\" id=\"report-data\">" << json_for_script(data) << "</script>\n";
  html << "<script>" << script_safe(without_source_map(chart_js)) << "</script>\n";
  html << "<script>" << kPageScript << "</script>\n</body></html>\n";
  return html.str();
}

std::string embedded_chart_js() {
#ifdef LOOKOUT_HAVE_CHART_JS
  const embedded::File& f = embedded::report_assets[0];
  return std::string(reinterpret_cast<const char*>(f.data), f.size);
#else
  return {};
#endif
}

}  // namespace lookout::offload
