#include "offload/report_map.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <tuple>

#include "offload/cost_model.h"
#include "offload/report_data.h"

namespace lookout::offload {

namespace {

using Pair = wire::MapFile::Pair;

constexpr double kInf = std::numeric_limits<double>::infinity();
// The model's bound: a prediction within 10 % of the measurement.
constexpr double kTolerance = 0.10;
// At most this many cell keys are listed in one sentence.
constexpr size_t kMaxKeysListed = 6;
constexpr Schedule kSchedules[] = {Schedule::local, Schedule::remote, Schedule::hybrid};
// The scatter's series colours, one per schedule, as the heatmaps colour them.
constexpr const char* kScheduleColour[] = {"#4e79a7", "#e15759", "#59a14f"};

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string times(double v) { return fixed_text(v, 2) + "x"; }
std::string percent(double fraction) { return fmt("%+.1f", 100 * fraction) + " %"; }
std::string kilobytes(double bytes) { return fixed_text(bytes / 1000, 0) + " kB"; }

// "a", "a and b", "a, b and c"
std::string join_and(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return s;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i == 0 ? "" : separator) + parts[i];
  return s;
}

// The first kMaxKeysListed keys, "; " apart, and how many more.
std::string key_list(const std::vector<std::string>& keys) {
  std::vector<std::string> shown(keys.begin(), keys.begin() + static_cast<long>(std::min(keys.size(), kMaxKeysListed)));
  std::string s = join(shown, "; ");
  if (keys.size() > shown.size()) s += "; and " + std::to_string(keys.size() - shown.size()) + " more";
  return s;
}

// The middle value (the mean of the two middle ones for an even count);
// infinities sort last.
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string variant_text(bool resized) { return resized ? "downscaled before upload" : "without downscaling"; }

double error_of(double predicted, double measured) { return measured > 0 ? (predicted - measured) / measured : 0.0; }

// The settings of a cell without its pair or resize, for sentences that name those already.
std::string link_text(const MapCellResult& c) { return setting_text(c.bandwidth_mbps) + " Mbit/s, " + setting_text(c.rtt_ms) + " ms RTT"; }

// Cells of one pair and variant that were measured, as indices.
std::vector<size_t> measured_cells(const MapReport& m, const Pair& pair, bool resized) {
  std::vector<size_t> out;
  for (size_t i = 0; i < m.cells.size(); ++i) {
    const MapCellResult& c = m.cells[i];
    if (c.measured && same_pair(c.pair, pair) && c.resized == resized) out.push_back(i);
  }
  return out;
}

const MapCellResult* find_cell(const MapReport& m, const Pair& pair, double bw, double rtt, bool resized) {
  for (const MapCellResult& c : m.cells)
    if (c.measured && same_pair(c.pair, pair) && c.bandwidth_mbps == bw && c.rtt_ms == rtt && c.resized == resized)
      return &c;
  return nullptr;
}

// ---- the grid

void grid_axes(MapReport& m, const wire::MapFile& map) {
  std::set<double> bws, rtts;
  std::set<bool> variants;
  for (const wire::MapFile::Cell& c : map.cells) {
    bws.insert(c.bandwidth_mbps);
    rtts.insert(c.rtt_ms);
    variants.insert(c.resize_before_upload);
    if (std::none_of(m.pairs.begin(), m.pairs.end(), [&](const Pair& p) { return same_pair(p, c.pair); }))
      m.pairs.push_back(c.pair);
  }
  m.bandwidths.assign(bws.begin(), bws.end());
  m.rtts.assign(rtts.begin(), rtts.end());
  // The grid is every combination of the settings seen; a sweep that
  // stopped early leaves some out.
  std::set<std::string> present;
  for (const wire::MapFile::Cell& c : map.cells) present.insert(c.key());
  for (const Pair& p : m.pairs)
    for (const bool resized : variants)
      for (const double rtt : m.rtts)
        for (const double bw : m.bandwidths) {
          wire::MapFile::Cell probe;
          probe.pair = p;
          probe.bandwidth_mbps = bw;
          probe.rtt_ms = rtt;
          probe.resize_before_upload = resized;
          if (!present.count(probe.key())) m.missing.push_back(probe.key());
        }
}

void heatmaps(MapReport& m, size_t index) {
  std::set<bool> variants;
  for (const MapCellResult& c : m.cells) variants.insert(c.resized);
  for (size_t p = 0; p < m.pairs.size(); ++p)
    for (const bool resized : variants) {
      Heatmap h;
      h.id = "map" + std::to_string(index) + "-pair" + std::to_string(p) + (resized ? "-resized" : "");
      h.pair = m.pairs[p];
      h.resized = resized;
      h.title = pair_text(h.pair) + ", " + variant_text(resized);
      for (size_t i = 0; i < m.cells.size(); ++i)
        if (same_pair(m.cells[i].pair, h.pair) && m.cells[i].resized == resized) h.cells.push_back(i);
      if (h.cells.empty()) continue;
      for (const double rtt : m.rtts) {
        std::vector<double> row;
        for (const size_t i : h.cells)
          if (m.cells[i].rtt_ms == rtt) row.push_back(m.cells[i].break_even_mbps.value_or(kInf));
        if (row.empty()) continue;
        const double mid = median(row);
        h.boundary.emplace_back(rtt, std::isfinite(mid) ? std::optional<double>(mid) : std::nullopt);
      }
      m.heatmaps.push_back(std::move(h));
    }
}

// ---- the seed experiment's setting

void place_seed(MapReport& m, const wire::MapFile& map) {
  std::vector<double> request_bytes;
  for (const MapCellResult& c : m.cells)
    if (!c.resized) request_bytes.push_back(c.mean_request_bytes);
  if (request_bytes.empty()) return;
  SeedSetting s;
  s.mean_request_bytes = median(request_bytes);
  s.bandwidth_mbps = s.mean_request_bytes * 8 / SeedSetting::kUploadS / 1e6;
  // The equal machines' cell nearest that bandwidth (on a log scale), at the lowest RTT.
  std::optional<size_t> best;
  const auto distance = [&](const MapCellResult& c) {
    return std::make_tuple(std::fabs(std::log(c.bandwidth_mbps / s.bandwidth_mbps)), c.rtt_ms);
  };
  for (size_t i = 0; i < m.cells.size(); ++i) {
    const MapCellResult& c = m.cells[i];
    if (c.resized || c.pair.local_cpu != c.pair.remote_cpu) continue;
    if (!best || distance(c) < distance(m.cells[*best])) best = i;
  }
  if (!best) return;
  s.model_cell = *best;

  // That cell's fitted model, at the seed's link and with its slower remote.
  const CostModel fitted = CostModel::from_summary(map.cells[*best].offload);
  RemoteProfile remote = fitted.remote();
  s.server_ms = remote.server_ms;
  s.slowed_server_ms = remote.server_ms * SeedSetting::kRemoteSlowdown;
  remote.server_ms = s.slowed_server_ms;
  remote.bandwidth_mbps = s.bandwidth_mbps;
  const CostModel model(fitted.local(), remote);
  const size_t images = m.cells[*best].images;
  s.predicted.local = model.local().ms_per_image;
  s.predicted.remote = model.remote_ms_at(s.bandwidth_mbps, remote.rtt_ms);
  s.predicted.hybrid = model.hybrid(std::vector<double>(images, remote.mean_request_bytes)).wall_s;
  const double n = static_cast<double>(images);
  s.predicted_wall_s = {n * s.predicted.local / 1000, n * s.predicted.remote / 1000, s.predicted.hybrid};
  s.winner = s.predicted_wall_s.fastest();
  m.seed = s;
}

// ---- predicted against measured

void scatter(MapReport& m, size_t index) {
  ChartSpec& chart = m.scatter;
  chart.id = "map" + std::to_string(index) + "-scatter";
  chart.title = "Predicted against measured, every cell";
  chart.kind = "xy";
  chart.x_label = "predicted (ms per image, log scale)";
  chart.y_label = "measured (ms per image, log scale)";
  chart.x_log = chart.y_log = true;
  double lo = kInf, hi = 0;
  for (const Schedule s : kSchedules) {
    Series series;
    series.label = s == Schedule::hybrid ? std::string("hybrid makespan ÷ images") : std::string(schedule_name(s)) + " per image";
    series.color = schedule_colour(s);
    series.line = false;
    series.point_radius = 5;
    series.point_style = s == Schedule::local ? "circle" : s == Schedule::remote ? "rect" : "triangle";
    for (const MapCellResult& c : m.cells) {
      if (!c.measured) continue;
      // The hybrid's makespan per image, so that one axis holds all three.
      const double per = s == Schedule::hybrid ? 1000.0 / static_cast<double>(std::max<size_t>(c.images, 1)) : 1.0;
      const double predicted = c.predicted.of(s) * per, measured = c.measured_value.of(s) * per;
      if (!(predicted > 0) || !(measured > 0)) continue;
      series.points.emplace_back(predicted, measured);
      lo = std::min({lo, predicted, measured});
      hi = std::max({hi, predicted, measured});
      if (std::fabs(c.error.of(s)) > kTolerance)
        m.misses.push_back({c.key, schedule_name(s), predicted, measured, c.error.of(s)});
    }
    chart.series.push_back(std::move(series));
  }
  if (!(hi > 0)) {
    chart.series.clear();
    return;
  }
  lo = std::pow(10.0, std::floor(std::log10(lo / 1.2)));
  hi = std::pow(10.0, std::ceil(std::log10(hi * 1.2)));
  const auto line = [&](const std::string& label, const char* colour, double factor, bool dashed, bool fill) {
    Series s;
    s.label = label;
    s.color = colour;
    s.points = {{lo, lo * factor}, {hi, hi * factor}};
    s.dashed = dashed;
    s.fill_to_previous = fill;
    return s;
  };
  // measured = predicted / (1 + error): the band holds |error| <= 10 %.
  chart.series.push_back(line("model exact (measured = predicted)", "#1f2933", 1.0, false, false));
  chart.series.push_back(line("within 10 % (band)", "#9fb3c8", 1 / (1 + kTolerance), true, false));
  chart.series.push_back(line("", "#9fb3c8", 1 / (1 - kTolerance), true, true));
  chart.note = "Each point is one cell and one schedule: the model's prediction against the validation run. On the "
               "solid line the model is exact; inside the shaded band it is within 10 % of the measurement. Points "
               "outside are listed below.";
}

// ---- the answers

std::string coverage_sentence(const MapReport& m) {
  std::vector<std::string> bws, rtts, pairs;
  for (const double v : m.bandwidths) bws.push_back(setting_text(v));
  for (const double v : m.rtts) rtts.push_back(setting_text(v));
  for (const Pair& p : m.pairs) pairs.push_back(pair_text(p));
  std::set<bool> variants;
  for (const MapCellResult& c : m.cells) variants.insert(c.resized);
  const size_t grid = m.cells.size() + m.missing.size();
  const std::string variant = variants.size() == 2 ? "without and with downscaling before upload"
                                                   : variant_text(*variants.begin());
  return std::to_string(m.cells.size()) + " of the " + std::to_string(grid) + " cells of this map's grid were measured, on " +
         m.collection + " (" + std::to_string(m.images) + " images): bandwidth " + join_and(bws) + " Mbit/s × RTT " +
         join_and(rtts) + " ms × " + std::to_string(m.pairs.size()) + " machine " +
         (m.pairs.size() == 1 ? "pair" : "pairs") + " (" + join(pairs, "; ") + "), " + variant + ".";
}

std::string where_it_pays(const MapReport& m, const Heatmap& h) {
  const std::vector<size_t> cells = measured_cells(m, h.pair, h.resized);
  const std::string lead = h.title + ": ";
  if (cells.empty()) return lead + "no cell has validation runs, so nothing was measured.";
  std::vector<std::string> rows;
  size_t pays = 0;
  for (const double rtt : m.rtts) {
    std::vector<std::string> at;
    for (const size_t i : cells) {
      const MapCellResult& c = m.cells[i];
      if (c.rtt_ms != rtt || c.winner == Schedule::local) continue;
      at.push_back(setting_text(c.bandwidth_mbps) + " Mbit/s (" + schedule_name(c.winner) + ", " + times(c.speedup) + ")");
    }
    pays += at.size();
    if (!at.empty()) rows.push_back("at " + setting_text(rtt) + " ms RTT: " + join_and(at));
  }
  const std::string of = " of the " + std::to_string(cells.size()) + " settings measured";
  if (pays == 0) {
    const MapCellResult* best = nullptr;
    for (const size_t i : cells)
      if (!best || m.cells[i].offload_speedup > best->offload_speedup) best = &m.cells[i];
    const Schedule side = best->measured_wall_s.remote <= best->measured_wall_s.hybrid ? Schedule::remote : Schedule::hybrid;
    return lead + "nowhere" + of + ": local wins every one; the best offloaded run reaches " +
           times(best->offload_speedup) + " of local's speed (" + schedule_name(side) + " at " + link_text(*best) + ").";
  }
  std::string s = lead + "in " + std::to_string(pays) + of + " — " + join(rows, "; ");
  const size_t rest = cells.size() - pays;
  if (rest > 0) s += "; local wins the other " + (rest == 1 ? std::string("one") : std::to_string(rest));
  return s + ".";
}

// The median speedup of offloading over local in cells grouped by `value_of`.
std::string lever_by(const MapReport& m, const std::vector<size_t>& cells, const std::vector<double>& axis,
                     double (*value_of)(const MapCellResult&), const char* unit) {
  std::vector<std::string> parts;
  for (const double v : axis) {
    std::vector<double> speedups;
    for (const size_t i : cells)
      if (value_of(m.cells[i]) == v) speedups.push_back(m.cells[i].offload_speedup);
    if (!speedups.empty()) parts.push_back(times(median(speedups)) + " at " + setting_text(v));
  }
  if (parts.size() < 2) return {};
  parts.back() += std::string(" ") + unit;
  return join_and(parts);
}

struct Comparison {
  size_t settings = 0, wins_a = 0, wins_b = 0;
  double median_a = 0, median_b = 0;
  std::vector<double> bytes_a, bytes_b;
};

// Cells of `a` against the cells of `b` at the same settings (as `match` pairs them up).
template <typename Match>
Comparison compare(const MapReport& m, Match match) {
  Comparison c;
  std::vector<double> sa, sb;
  for (const MapCellResult& a : m.cells) {
    if (!a.measured) continue;
    const MapCellResult* b = match(a);
    if (!b) continue;
    ++c.settings;
    sa.push_back(a.offload_speedup);
    sb.push_back(b->offload_speedup);
    c.wins_a += a.winner != Schedule::local;
    c.wins_b += b->winner != Schedule::local;
    c.bytes_a.push_back(a.mean_request_bytes);
    c.bytes_b.push_back(b->mean_request_bytes);
  }
  if (c.settings) {
    c.median_a = median(sa);
    c.median_b = median(sb);
  }
  return c;
}

std::string comparison_text(const Comparison& c, const std::string& measured_in) {
  return "offloading wins in " + std::to_string(c.wins_a) + " of the " + std::to_string(c.settings) + " settings " +
         measured_in + " instead of " + std::to_string(c.wins_b) + ", and the median speedup of offloading over local is " +
         times(c.median_a) + " instead of " + times(c.median_b);
}

std::string ratio_text(const Pair& p) {
  const double r = p.remote_cpu / p.local_cpu;
  return r == 1 ? std::string("equal machines") : "the remote " + setting_text(r) + "x the local's CPU";
}

void lever_sentences(const MapReport& m, std::vector<std::string>& out) {
  // A stronger remote relative to the local device: each pair against the
  // one whose remote is weakest relative to its local.
  std::vector<Pair> by_ratio = m.pairs;
  std::stable_sort(by_ratio.begin(), by_ratio.end(),
                   [](const Pair& a, const Pair& b) { return a.remote_cpu / a.local_cpu < b.remote_cpu / b.local_cpu; });
  for (size_t i = 1; i < by_ratio.size(); ++i) {
    const Pair& base = by_ratio.front();
    const Pair& stronger = by_ratio[i];
    const Comparison c = compare(m, [&](const MapCellResult& a) -> const MapCellResult* {
      if (!same_pair(a.pair, stronger)) return nullptr;
      return find_cell(m, base, a.bandwidth_mbps, a.rtt_ms, a.resized);
    });
    if (c.settings == 0) {
      out.push_back("A stronger remote relative to the local device (" + pair_text(stronger) + " against " +
                          pair_text(base) + "): no setting was measured for both pairs, so the map cannot compare them.");
      continue;
    }
    out.push_back("A stronger remote relative to the local device (" + pair_text(stronger) + ", " +
                        ratio_text(stronger) + ", against " + pair_text(base) + ", " + ratio_text(base) + "): " +
                        comparison_text(c, "measured for both") + ".");
  }

  for (const Pair& p : m.pairs) {
    const std::vector<size_t> cells = measured_cells(m, p, false);
    const std::string bw = lever_by(m, cells, m.bandwidths, [](const MapCellResult& c) { return c.bandwidth_mbps; }, "Mbit/s");
    const std::string rtt = lever_by(m, cells, m.rtts, [](const MapCellResult& c) { return c.rtt_ms; }, "ms RTT");
    if (!bw.empty())
      out.push_back("More bandwidth, " + pair_text(p) + " without downscaling: the median speedup of offloading "
                          "over local is " + bw + ".");
    if (!rtt.empty())
      out.push_back("A shorter round trip, " + pair_text(p) + " without downscaling: the median speedup of "
                          "offloading over local is " + rtt + ".");
  }

  bool any_resized = false;
  for (const MapCellResult& c : m.cells) any_resized |= c.resized;
  if (!any_resized) {
    out.push_back("Downscaling before upload: no cell of this map was measured with it, so what it buys is not "
                        "measured here.");
    return;
  }
  for (const Pair& p : m.pairs) {
    const Comparison c = compare(m, [&](const MapCellResult& a) -> const MapCellResult* {
      if (!same_pair(a.pair, p) || !a.resized) return nullptr;
      return find_cell(m, p, a.bandwidth_mbps, a.rtt_ms, false);
    });
    if (c.settings == 0) {
      out.push_back("Downscaling before upload, " + pair_text(p) +
                          ": no setting was measured both with and without it.");
      continue;
    }
    out.push_back("Downscaling before upload, " + pair_text(p) + " (mean request " + kilobytes(median(c.bytes_b)) +
                        " → " + kilobytes(median(c.bytes_a)) + "): " + comparison_text(c, "measured both ways") + ".");
  }
}

std::string seed_sentence(const MapReport& m) {
  const std::string lead = "The seed experiment's own setting (an upload of " + fixed_text(SeedSetting::kUploadS, 2) +
                           " s per image, remote inference " + setting_text(SeedSetting::kRemoteSlowdown) + "x" + " slower than local)";
  if (!m.seed) {
    bool any_plain = false;
    for (const MapCellResult& c : m.cells) any_plain |= !c.resized;
    return lead + " cannot be placed: " +
           (any_plain ? "the map has no cell of a pair with equal machines, whose model it needs."
                      : "the map has no cell without downscaling, whose request size it needs.");
  }
  const SeedSetting& s = *m.seed;
  const MapCellResult& cell = m.cells[s.model_cell];
  const Triple& w = s.predicted_wall_s;
  std::string winner_text = std::string(schedule_name(s.winner)) + " wins there";
  if (s.winner != Schedule::local) winner_text += " (" + times(w.local / w.of(s.winner)) + " over local)";
  return lead + ": for this collection's mean request of " + kilobytes(s.mean_request_bytes) + " that upload is a link of " +
         fixed_text(s.bandwidth_mbps, 1) + " Mbit/s. The model of equal machines fitted in the cell " + cell.key +
         ", with the remote's server time x" + setting_text(SeedSetting::kRemoteSlowdown) + " (" + fixed_text(s.server_ms, 1) +
         " → " + fixed_text(s.slowed_server_ms, 1) + " ms), predicts " + fixed_text(s.predicted.local, 1) +
         " ms per image locally and " + fixed_text(s.predicted.remote, 1) + " ms remotely; for the " +
         std::to_string(cell.images) + " images " + fixed_text(w.local, 2) + " s local, " + fixed_text(w.remote, 2) +
         " s remote, " + fixed_text(w.hybrid, 2) + " s hybrid: " + winner_text + ". It is marked ★ on the map of " +
         pair_text(cell.pair) + ".";
}

std::string accuracy_sentence(const MapReport& m) {
  size_t measured = 0, within = 0;
  const MapCellResult* worst = nullptr;
  Schedule worst_side = Schedule::local;
  std::vector<std::string> missed;
  for (const MapCellResult& c : m.cells) {
    if (!c.measured) continue;
    ++measured;
    bool all = true;
    for (const Schedule s : kSchedules) {
      all &= std::fabs(c.error.of(s)) <= kTolerance;
      if (!worst || std::fabs(c.error.of(s)) > std::fabs(worst->error.of(worst_side))) {
        worst = &c;
        worst_side = s;
      }
    }
    within += all;
    if (c.winner_missed())
      missed.push_back(c.key + " (predicted " + schedule_name(c.predicted_winner) + ", measured " + schedule_name(c.winner) + ")");
  }
  if (measured == 0) return "No cell has validation runs, so the model's predictions are not checked here.";
  std::string s = "The model: " + std::to_string(within) + " of the " + std::to_string(measured) +
                  " cells measured are within 10 % on all three schedules; the largest error is " +
                  percent(worst->error.of(worst_side)) + " (" + schedule_name(worst_side) + ", " + worst->key + "). ";
  if (missed.empty()) return s + "The predicted winner is the measured one in every cell.";
  return s + "The predicted winner differs from the measured one in " + std::to_string(missed.size()) +
         (missed.size() == 1 ? " cell" : " cells") + " (marked ⚠ on the maps): " + key_list(missed) + ".";
}

}  // namespace

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::local: return "local";
    case Schedule::remote: return "remote";
    case Schedule::hybrid: return "hybrid";
  }
  return "?";
}

const char* schedule_colour(Schedule s) { return kScheduleColour[static_cast<int>(s)]; }

Schedule Triple::fastest() const {
  Schedule best = Schedule::local;
  for (const Schedule s : kSchedules)
    if (of(s) < of(best)) best = s;
  return best;
}

std::string setting_text(double v) { return fmt("%g", v); }

bool same_pair(const Pair& a, const Pair& b) { return a.local_cpu == b.local_cpu && a.remote_cpu == b.remote_cpu; }

std::string pair_text(const Pair& pair) {
  return "local " + setting_text(pair.local_cpu) + " / remote " + setting_text(pair.remote_cpu) + " cpu";
}

MapCellResult map_cell_result(const wire::MapFile::Cell& cell) {
  const wire::OffloadSummary& o = cell.offload;
  MapCellResult c;
  c.key = cell.key();
  c.pair = cell.pair;
  c.bandwidth_mbps = cell.bandwidth_mbps;
  c.rtt_ms = cell.rtt_ms;
  c.resized = cell.resize_before_upload;
  c.images = o.images;
  c.mean_request_bytes = o.remote.mean_request_bytes;
  const double images = static_cast<double>(o.images);
  c.predicted = {o.local.ms_per_image, o.remote.ms_per_image, o.hybrid.predicted_s};
  c.predicted_wall_s = {images * c.predicted.local / 1000, images * c.predicted.remote / 1000, c.predicted.hybrid};
  c.predicted_winner = c.predicted_wall_s.fastest();
  c.break_even_mbps = CostModel::from_summary(o).break_even_bandwidth_mbps();
  if (!o.measured) return c;
  const wire::OffloadSummary::Measured& m = *o.measured;
  c.measured = true;
  c.measured_value = {m.local_ms_per_image, m.remote_ms_per_image, m.hybrid_wall_s};
  c.measured_wall_s = {m.local_wall_s, m.remote_wall_s, m.hybrid_wall_s};
  c.winner = c.measured_wall_s.fastest();
  const double winner_wall = c.measured_wall_s.of(c.winner);
  c.speedup = winner_wall > 0 ? m.local_wall_s / winner_wall : 1.0;
  const double offloaded = std::min(m.remote_wall_s, m.hybrid_wall_s);
  c.offload_speedup = offloaded > 0 ? m.local_wall_s / offloaded : 0.0;
  if (m.local_wall_s > 0 && m.remote_wall_s > 0)
    c.hybrid_over_ideal = m.hybrid_wall_s * (1 / m.local_wall_s + 1 / m.remote_wall_s);
  if (m.local_again_ms_per_image > 0 && m.local_ms_per_image > 0) {
    c.local_again_ms = m.local_again_ms_per_image;
    c.local_drift = m.local_again_ms_per_image / m.local_ms_per_image - 1;
  }
  for (const Schedule s : kSchedules) {
    const double e = error_of(c.predicted.of(s), c.measured_value.of(s));
    (s == Schedule::local ? c.error.local : s == Schedule::remote ? c.error.remote : c.error.hybrid) = e;
  }
  return c;
}

std::vector<std::string> MapReport::sentences() const {
  std::vector<std::string> all;
  for (const Answers& a : answers) all.insert(all.end(), a.sentences.begin(), a.sentences.end());
  return all;
}

MapReport map_report(const std::string& source, const wire::MapFile& map, size_t index) {
  MapReport m;
  m.source = source;
  m.collection = map.collection;
  m.cpu = map.cpu;
  m.created = map.created;
  m.images = map.images;
  for (const wire::MapFile::Cell& c : map.cells) m.cells.push_back(map_cell_result(c));
  if (m.cells.empty()) {
    m.answers.push_back({"This map", {source + " holds no cells yet: run `lookout map` (it resumes where it stopped) to "
                                                "measure them."}});
    return m;
  }
  grid_axes(m, map);
  heatmaps(m, index);
  place_seed(m, map);
  scatter(m, index);

  MapReport::Answers& map_itself = m.answers.emplace_back(MapReport::Answers{"This map", {coverage_sentence(m)}});
  if (!m.missing.empty())
    map_itself.sentences.push_back("Missing, as the sweep has not measured them (yet): " + std::to_string(m.missing.size()) +
                                   (m.missing.size() == 1 ? " cell: " : " cells: ") + key_list(m.missing) +
                                   ". What follows covers only the cells measured.");
  std::vector<std::string> unvalidated;
  for (const MapCellResult& c : m.cells)
    if (!c.measured) unvalidated.push_back(c.key);
  if (!unvalidated.empty())
    map_itself.sentences.push_back(std::to_string(unvalidated.size()) +
                                   (unvalidated.size() == 1 ? " cell has" : " cells have") +
                                   " no validation runs, so no measured winner: " + key_list(unvalidated) + ".");
  MapReport::Answers where{"Where offloading pays (measured)", {}};
  for (const Heatmap& h : m.heatmaps) where.sentences.push_back(where_it_pays(m, h));
  MapReport::Answers levers{"What each lever buys", {}};
  lever_sentences(m, levers.sentences);
  m.answers.push_back(std::move(where));
  m.answers.push_back(std::move(levers));
  m.answers.push_back({"The seed experiment's setting on the map", {seed_sentence(m)}});
  m.answers.push_back({"The model against the measurements", {accuracy_sentence(m)}});
  return m;
}

}  // namespace lookout::offload
