#include "offload/report_page.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>

#include "report_page_files.h"
#ifdef LOOKOUT_HAVE_CHART_JS
#include "report_assets.h"
#endif

namespace lookout::offload {

namespace {

using nlohmann::json;

// At most this many skipped-line warnings are listed in the page.
constexpr size_t kMaxWarningsShown = 20;

// A page file compiled in from src/offload/page/.
std::string_view page_file(std::string_view name) {
  for (size_t i = 0; i < embedded::report_page_files_count; ++i) {
    const embedded::File& f = embedded::report_page_files[i];
    if (name == f.name) return {reinterpret_cast<const char*>(f.data), f.size};
  }
  throw std::logic_error("the report page file " + std::string(name) + " was not compiled in");
}

// `page` with each {{name}} replaced by its value. Only the page is
// scanned, so a value holding "{{" (the charting library may) stays as it is.
std::string fill(std::string_view page, const std::map<std::string, std::string, std::less<>>& values) {
  std::string out;
  size_t at = 0;
  for (size_t open = page.find("{{"); open != std::string_view::npos; open = page.find("{{", at)) {
    const size_t close = page.find("}}", open);
    if (close == std::string_view::npos) throw std::logic_error("the report page has an unclosed {{");
    const auto value = values.find(page.substr(open + 2, close - open - 2));
    if (value == values.end())
      throw std::logic_error("the report page asks for {{" + std::string(page.substr(open + 2, close - open - 2)) + "}}");
    out.append(page.substr(at, open - at)).append(value->second);
    at = close + 2;
  }
  return out.append(page.substr(at));
}

std::string ms(const std::optional<double>& v) { return v ? fixed_text(*v, 1) : std::string("–"); }

// SI megabytes, as link speeds are SI too.
std::string megabytes(double bytes) { return fixed_text(bytes / 1e6, bytes < 1e7 ? 2 : 1) + " MB"; }

// "1 line", "2 lines".
std::string count_of(size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

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
    if (s.fill_to_previous) series.back()["fill"] = "-1";
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

std::string files_html(const std::vector<std::string>& files) {
  std::string html;
  for (size_t i = 0; i < files.size(); ++i) html += (i ? ", " : "") + ("<code>" + html_escape(files[i]) + "</code>");
  return html;
}

std::string verdict_html(const ReportData& d) {
  if (d.offload_verdicts.empty()) return "<p>" + html_escape(d.results_verdict) + "</p>";
  std::string html;
  for (const std::string& v : d.offload_verdicts) html += "<p>" + html_escape(v) + "</p>";
  return html + "<p class=\"secondary\">From the results: " + html_escape(d.results_verdict) + "</p>";
}

// One row per (collection, target): the original Table 3 had one column
// each, which does not fit once there are more than a few.
std::string means_table_html(const std::vector<GroupStats>& groups) {
  std::ostringstream html;
  html << "<div class=\"wide\"><table><tr><th class=\"text\">collection</th><th class=\"text\">target</th>"
          "<th>inference ms</th><th>upload ms</th><th>total ms</th><th>images ok</th></tr>";
  for (const GroupStats& g : groups)
    html << "<tr><td class=\"text\">" << html_escape(g.collection) << "</td><td class=\"text\">" << html_escape(g.target_label())
         << "</td><td>" << ms(g.mean_inference_ms) << "</td><td>" << ms(g.mean_upload_ms) << "</td><td><b>"
         << ms(g.mean_total_ms) << "</b></td><td>" << g.ok << " of " << g.images << "</td></tr>";
  html << "</table></div>";
  return html.str();
}

std::string charts_html(const std::vector<ChartSpec>& charts) {
  std::ostringstream html;
  for (const ChartSpec& c : charts)
    html << "<figure><h3>" << html_escape(c.title) << "</h3><div class=\"chart-box\"><canvas id=\"chart-" << c.id
         << "\" role=\"img\" aria-label=\"" << html_escape(c.title) << "\"></canvas></div><figcaption>"
         << html_escape(c.note) << "</figcaption></figure>\n";
  return html.str();
}

void offload_html(std::ostringstream& html, const OffloadInput& o) {
  const wire::OffloadSummary& s = o.summary;
  html << "<h3>Offload measurement: " << html_escape(s.collection.empty() ? o.source : s.collection) << "</h3><p>"
       << s.images << " images; local " << fixed_text(s.local.ms_per_image, 1) << " ms per image; remote "
       << html_escape(s.remote.url) << " " << fixed_text(s.remote.ms_per_image, 1) << " ms per image, RTT "
       << fixed_text(s.remote.rtt_ms, 1) << " ms, " << fixed_text(s.remote.bandwidth_mbps, 1) << " Mbit/s; model "
       << fixed_text(s.model.fixed_ms, 1) << " ms + " << fixed_text(s.model.bytes_per_image / 1000, 1)
       << " kB / bandwidth; break-even "
       << (s.break_even.bandwidth_mbps ? fixed_text(*s.break_even.bandwidth_mbps, 1) + " Mbit/s"
                                       : std::string("none (remote never pays)"));
  if (s.break_even.rtt_ms) html << " or RTT " << fixed_text(*s.break_even.rtt_ms, 1) << " ms";
  if (s.hybrid.measured_s)
    html << "; hybrid schedule " << fixed_text(s.hybrid.predicted_s, 2) << " s predicted, "
         << fixed_text(*s.hybrid.measured_s, 2) << " s measured";
  html << ".</p>\n";
}

std::string runs_html(const ReportData& d) {
  std::ostringstream html;
  const ResultTotals& t = d.totals;
  html << "<p>" << count_of(t.results, "result", "results") << " for "
       << count_of(t.distinct_images, "distinct image", "distinct images") << ": " << t.ok << " succeeded, " << t.failed
       << " failed; " << megabytes(t.bytes_sent) << " sent; " << count_of(t.resized, "upload", "uploads")
       << " resized before sending";
  if (!d.warnings.empty()) html << "; " << count_of(d.warnings.size(), "malformed line", "malformed lines") << " skipped";
  html << ".</p>\n";

  html << "<div class=\"wide\"><table><tr><th class=\"text\">collection</th><th class=\"text\">target</th>"
          "<th class=\"text\">schedule</th><th class=\"text\">label</th>"
          "<th>images</th><th>ok</th><th>failed</th><th>sent</th><th>resized</th>"
          "<th>median total ms</th><th>p95 total ms</th></tr>";
  for (const GroupStats& g : d.groups)
    html << "<tr><td class=\"text\">" << html_escape(g.collection) << "</td><td class=\"text\">" << html_escape(g.target)
         << "</td><td class=\"text\">" << html_escape(g.schedule) << "</td><td class=\"text\">" << html_escape(g.label)
         << "</td><td>" << g.images << "</td><td>" << g.ok << "</td><td>" << g.failed << "</td><td>"
         << megabytes(g.bytes_sent) << "</td><td>" << g.resized << "</td><td>" << ms(g.median_total_ms) << "</td><td>"
         << ms(g.p95_total_ms) << "</td></tr>";
  html << "</table></div>\n";

  if (!d.failures.empty()) {
    html << "<h3>Failures</h3><table><tr><th class=\"text\">target: message</th><th>images</th></tr>";
    for (const auto& [message, count] : d.failures)
      html << "<tr><td class=\"text\">" << html_escape(message) << "</td><td>" << count << "</td></tr>";
    html << "</table>\n";
  }

  for (const OffloadInput& o : d.offloads) offload_html(html, o);

  if (!d.warnings.empty()) {
    html << "<h3>Skipped lines</h3><ul class=\"warnings\">";
    for (size_t i = 0; i < d.warnings.size() && i < kMaxWarningsShown; ++i)
      html << "<li>" << html_escape(d.warnings[i]) << "</li>";
    if (d.warnings.size() > kMaxWarningsShown) html << "<li>and " << d.warnings.size() - kMaxWarningsShown << " more</li>";
    html << "</ul>\n";
  }
  return html.str();
}

// ---- the map

std::string percent_cell(double fraction) { return fixed_text(100 * fraction, 1) + " %"; }

// A cell's settings and figures in one line: the heatmap's tooltip.
std::string cell_summary(const MapCellResult& c) {
  if (!c.measured) return c.key + ": no validation runs (predicted winner " + schedule_name(c.predicted_winner) + ")";
  const Triple& w = c.measured_wall_s;
  std::string s = c.key + ": measured " + fixed_text(w.local, 2) + " s local, " + fixed_text(w.remote, 2) + " s remote, " +
                  fixed_text(w.hybrid, 2) + " s hybrid; " + schedule_name(c.winner) + " wins, " + fixed_text(c.speedup, 1) +
                  "x over local; predicted winner " + schedule_name(c.predicted_winner);
  if (c.winner_missed()) s += " (the model is wrong here)";
  return s;
}

json heatmap_json(const MapReport& m, const Heatmap& h) {
  json cells = json::array();
  for (const size_t i : h.cells) {
    const MapCellResult& c = m.cells[i];
    json cell = {{"bw", c.bandwidth_mbps}, {"rtt", c.rtt_ms}, {"measured", c.measured}, {"text", cell_summary(c)}};
    if (c.measured)
      cell.update({{"winner", schedule_name(c.winner)}, {"speedup", c.speedup}, {"missed", c.winner_missed()}});
    cells.push_back(cell);
  }
  json boundary = json::array();
  for (const auto& [rtt, bw] : h.boundary) boundary.push_back({{"rtt", rtt}, {"bw", bw ? json(*bw) : json(nullptr)}});
  json colours = json::object();
  for (const Schedule s : {Schedule::local, Schedule::remote, Schedule::hybrid}) colours[schedule_name(s)] = schedule_colour(s);
  json out = {{"id", h.id},           {"title", h.title},     {"bandwidths", m.bandwidths}, {"rtts", m.rtts},
              {"cells", cells},       {"boundary", boundary}, {"colours", colours}};
  if (m.seed && !h.resized && same_pair(m.cells[m.seed->model_cell].pair, h.pair))
    out["seed"] = {{"bw", m.seed->bandwidth_mbps},
                   {"rtt", m.cells[m.seed->model_cell].rtt_ms},
                   {"text", "the seed experiment's setting: " + fixed_text(m.seed->bandwidth_mbps, 1) +
                                " Mbit/s, remote " + fixed_text(SeedSetting::kRemoteSlowdown, 1) + "x slower; predicted " +
                                schedule_name(m.seed->winner) + " wins"}};
  return out;
}

std::string heatmaps_html(const MapReport& m) {
  std::set<bool> variants;
  for (const MapCellResult& c : m.cells) variants.insert(c.resized);
  std::ostringstream html;
  for (const wire::MapFile::Pair& pair : m.pairs) {
    html << "<div class=\"heatmaps\">";
    for (const bool resized : variants) {
      const auto h = std::find_if(m.heatmaps.begin(), m.heatmaps.end(), [&](const Heatmap& x) {
        return same_pair(x.pair, pair) && x.resized == resized;
      });
      if (h == m.heatmaps.end()) {
        html << "<figure><h3>" << html_escape(pair_text(pair)) << (resized ? ", downscaled before upload" : ", without downscaling")
             << "</h3><p class=\"meta\">No cell of this pair was measured this way.</p></figure>";
        continue;
      }
      const std::string label = "Measured winner per bandwidth and RTT, " + h->title +
                                "; each cell labelled with its speedup over local; the line is the model's break-even";
      std::string boundary;
      for (const auto& [rtt, bw] : h->boundary)
        boundary += std::string(boundary.empty() ? "" : "; ") +
                    (bw ? fixed_text(*bw, 1) + " Mbit/s" : std::string("no bandwidth")) + " at " + setting_text(rtt) + " ms RTT";
      html << "<figure><h3>" << html_escape(h->title) << "</h3><svg id=\"heatmap-" << h->id
           << "\" class=\"map-heatmap\" role=\"img\" aria-label=\"" << html_escape(label) << "\"></svg><figcaption>"
           << "The model's break-even (remote alone as fast as local per image, the median of the row's fitted models): "
           << html_escape(boundary) << ".</figcaption></figure>";
    }
    html << "</div>\n";
  }
  return html.str();
}

std::string legend_html() {
  std::ostringstream html;
  for (const Schedule s : {Schedule::local, Schedule::remote, Schedule::hybrid})
    html << "<span class=\"swatch\" style=\"background:" << schedule_colour(s) << "\"></span>" << schedule_name(s)
         << " wins (measured) ";
  html << "<span class=\"boundary-key\"></span>the model's break-even: right of it, remote alone beats local per image "
          "(at the right edge: no bandwidth does) · ⚠ the model predicted another winner · ★ the seed experiment's "
          "setting · grey: not measured. The label is the measured speedup over local.";
  return html.str();
}

std::string misses_html(const MapReport& m) {
  if (m.misses.empty()) return "<p>None: every prediction is within 10 % of its measurement.</p>";
  std::ostringstream html;
  html << "<div class=\"wide\"><table><tr><th class=\"text\">cell</th><th class=\"text\">schedule</th>"
          "<th>predicted ms per image</th><th>measured</th><th>error</th></tr>";
  for (const MapMiss& x : m.misses)
    html << "<tr><td class=\"text\">" << html_escape(x.key) << "</td><td class=\"text\">" << x.schedule << "</td><td>"
         << fixed_text(x.predicted, 1) << "</td><td>" << fixed_text(x.measured, 1) << "</td><td>" << percent_cell(x.error)
         << "</td></tr>";
  html << "</table></div>";
  return html.str();
}

std::string cells_html(const MapReport& m) {
  std::ostringstream html;
  html << "<div class=\"wide\"><table class=\"map-cells\"><tr><th class=\"text\" colspan=\"4\">setting</th>"
          "<th colspan=\"4\">T_local, ms per image</th><th colspan=\"3\">T_remote, ms per image</th>"
          "<th colspan=\"4\">hybrid makespan, s</th><th class=\"text\" colspan=\"2\">winner</th><th rowspan=\"2\">speedup</th></tr>"
          "<tr><th class=\"text\">CPU local / remote</th><th>Mbit/s</th><th>RTT ms</th><th class=\"text\">downscaled</th>";
  for (int i = 0; i < 3; ++i) {
    html << "<th>predicted</th><th>measured</th><th>error</th>";
    if (i == 0)
      html << "<th title=\"the local run again at the cell's end, and its drift from the first: this machine's own "
              "variation\">again</th>";
  }
  html << "<th title=\"the measured hybrid over the ideal split, 1 / (1 / local + 1 / remote), from the runs alone\">"
          "÷ ideal</th><th class=\"text\">predicted</th><th class=\"text\">measured</th></tr>";
  for (const MapCellResult& c : m.cells) {
    html << "<tr" << (c.winner_missed() ? " class=\"missed\"" : "") << "><td class=\"text\">" << setting_text(c.pair.local_cpu)
         << " / " << setting_text(c.pair.remote_cpu) << "</td><td>" << setting_text(c.bandwidth_mbps) << "</td><td>"
         << setting_text(c.rtt_ms) << "</td><td class=\"text\">" << (c.resized ? "yes" : "no") << "</td>";
    for (const Schedule s : {Schedule::local, Schedule::remote, Schedule::hybrid}) {
      const int decimals = s == Schedule::hybrid ? 2 : 1;
      html << "<td>" << fixed_text(c.predicted.of(s), decimals) << "</td>";
      if (!c.measured) {
        html << (s == Schedule::local ? "<td>–</td><td>–</td><td>–</td>" : "<td>–</td><td>–</td>");
        continue;
      }
      const bool off = std::fabs(c.error.of(s)) > 0.10;
      html << "<td>" << fixed_text(c.measured_value.of(s), decimals) << "</td><td" << (off ? " class=\"off\"" : "") << ">"
           << percent_cell(c.error.of(s)) << "</td>";
      if (s == Schedule::local)
        html << "<td>"
             << (c.local_again_ms > 0 ? fixed_text(c.local_again_ms, 1) + " (" + percent_cell(c.local_drift) + ")" : "–")
             << "</td>";
    }
    html << "<td>" << (c.hybrid_over_ideal > 0 ? fixed_text(c.hybrid_over_ideal, 2) + "x" : "–") << "</td>";
    html << "<td class=\"text\">" << schedule_name(c.predicted_winner) << "</td><td class=\"text\">"
         << (c.measured ? std::string(schedule_name(c.winner)) + (c.winner_missed() ? " ⚠" : "") : "–") << "</td><td>"
         << (c.measured ? fixed_text(c.speedup, 2) + "x" : "–") << "</td></tr>";
  }
  html << "</table></div>";
  return html.str();
}

std::string map_html(const MapReport& m, size_t index) {
  std::string meta = "From <code>" + html_escape(m.source) + "</code>";
  if (!m.collection.empty()) meta += ": " + html_escape(m.collection) + ", " + std::to_string(m.images) + " images";
  if (!m.cpu.empty()) meta += ", on " + html_escape(m.cpu);
  if (!m.created.empty()) meta += ", sweep begun " + html_escape(m.created);
  std::string answers;
  for (const MapReport::Answers& a : m.answers) {
    answers += "<h3>" + html_escape(a.topic) + "</h3><ul>";
    for (const std::string& sentence : a.sentences) answers += "<li>" + html_escape(sentence) + "</li>";
    answers += "</ul>";
  }
  const bool drawn = !m.cells.empty();
  return fill(page_file("map.html"),
              {{"id", "map-" + std::to_string(index)},
               {"meta", meta + "."},
               {"answers", answers},
               {"heatmaps", drawn ? heatmaps_html(m) : ""},
               {"legend", drawn ? legend_html() : ""},
               {"scatter", m.scatter.series.empty() ? "" : charts_html({m.scatter})},
               {"misses", drawn ? misses_html(m) : "<p>No cells.</p>"},
               {"cells", drawn ? cells_html(m) : "<p>No cells.</p>"}});
}

}  // namespace

std::string render_html(const ReportData& d, const std::string& chart_js) {
  json data = {{"charts", json::array()}};
  for (const ChartSpec& c : d.charts) data["charts"].push_back(chart_json(c));
  std::string maps;
  if (!d.maps.empty()) {
    data["maps"] = json::array();
    for (size_t i = 0; i < d.maps.size(); ++i) {
      const MapReport& m = d.maps[i];
      maps += map_html(m, i);
      if (!m.scatter.series.empty()) data["charts"].push_back(chart_json(m.scatter));
      json heatmaps = json::array();
      for (const Heatmap& h : m.heatmaps) heatmaps.push_back(heatmap_json(m, h));
      data["maps"].push_back({{"heatmaps", heatmaps}});
    }
  }
  // Results and offload summaries have their verdict; a page of maps alone
  // has the map's answers instead.
  const bool results = !d.groups.empty();
  const std::string verdict = results || !d.offloads.empty()
                                  ? "<section class=\"verdict\" id=\"verdict\">" + verdict_html(d) + "</section>\n"
                                  : std::string();
  const std::string results_html = results ? fill(page_file("results.html"), {{"means_table", means_table_html(d.groups)},
                                                                              {"charts", charts_html(d.charts)},
                                                                              {"runs", runs_html(d)}})
                                           : std::string();
  return fill(page_file("report.html"), {{"style", std::string(page_file("report.css"))},
                                         {"files", files_html(d.files)},
                                         {"verdict", verdict},
                                         {"map", maps},
                                         {"results", results_html},
                                         {"data", json_for_script(data)},
                                         {"chart_js", script_safe(without_source_map(chart_js))},
                                         {"script", std::string(page_file("map.js")) + std::string(page_file("report.js"))}});
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
