// A strict parser and checker of the Prometheus text exposition format
// (version 0.0.4), for testing GET /metrics without promtool:
//   - every line is a "# HELP name text", a "# TYPE name type", another
//     comment, an empty line, or a sample "name{l="v",...} value [ts]";
//   - metric and label names match the spec's regexes, label values use only
//     the \\ \" \n escapes, values parse as floats (or +Inf/-Inf/NaN);
//   - HELP and TYPE at most once per family, both before its first sample;
//     a family's samples are contiguous; no series appears twice;
//   - histograms: per label set, _bucket samples with strictly increasing le
//     ending in le="+Inf", cumulative (non-decreasing) counts, a _sum and a
//     _count, and _count equal to the +Inf bucket;
//   - counters are never negative; the text ends with a newline.
// parse() throws std::runtime_error naming the line and the rule broken.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lookout::server_test::prom {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;  // as written (e.g. x_bucket)
  Labels labels;
  double value = 0;
};

struct Family {
  std::string name;
  std::string type = "untyped";
  std::string help;
  std::vector<Sample> samples;
};

struct Exposition {
  std::map<std::string, Family> families;

  const Family* family(const std::string& name) const {
    auto it = families.find(name);
    return it == families.end() ? nullptr : &it->second;
  }
  // The value of the sample with exactly these labels, if present.
  std::optional<double> value(const std::string& sample_name, const Labels& labels) const {
    for (const auto& [_, f] : families) {
      for (const auto& s : f.samples) {
        if (s.name == sample_name && s.labels == labels) return s.value;
      }
    }
    return std::nullopt;
  }
};

namespace detail {

// Hand-written matchers, not std::regex (GCC 12's <regex> trips
// -Wmaybe-uninitialized under the sanitizers, and warnings are errors).
inline bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
inline bool is_metric_name(const std::string& s) {
  if (s.empty() || !(is_alpha_(s[0]) || s[0] == ':')) return false;
  for (char c : s) {
    if (!(is_alpha_(c) || is_digit(c) || c == ':')) return false;
  }
  return true;
}
// [a-zA-Z_][a-zA-Z0-9_]*
inline bool is_label_name(const std::string& s) {
  if (s.empty() || !is_alpha_(s[0])) return false;
  for (char c : s) {
    if (!(is_alpha_(c) || is_digit(c))) return false;
  }
  return true;
}
// -?[0-9]+
inline bool is_integer(const std::string& s) {
  size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!is_digit(s[i])) return false;
  }
  return true;
}
// [-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?
inline bool is_float(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

[[noreturn]] inline void fail(size_t line_no, const std::string& line, const std::string& why) {
  throw std::runtime_error("metrics line " + std::to_string(line_no) + " (" + line + "): " + why);
}

inline double parse_value(const std::string& v, size_t line_no, const std::string& line) {
  if (v == "+Inf" || v == "Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  if (v == "NaN") return NAN;
  if (!is_float(v)) fail(line_no, line, "value '" + v + "' is not a float");
  return std::strtod(v.c_str(), nullptr);
}

// The family a sample name belongs to, given the families declared so far.
inline std::string family_of(const std::string& name, const std::map<std::string, Family>& families) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string sfx = suffix;
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      const std::string base = name.substr(0, name.size() - sfx.size());
      auto it = families.find(base);
      if (it != families.end() && (it->second.type == "histogram" || it->second.type == "summary")) return base;
    }
  }
  return name;
}

inline void check_histogram(const Family& f) {
  // Group by the labels other than le.
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // le, count (in order written)
    std::optional<double> sum, count;
  };
  std::map<Labels, Series> series;
  for (const auto& s : f.samples) {
    Labels key = s.labels;
    if (s.name == f.name + "_bucket") {
      auto it = key.find("le");
      if (it == key.end()) throw std::runtime_error(f.name + ": a _bucket sample without an le label");
      const std::string le = it->second;
      key.erase(it);
      double bound;
      if (le == "+Inf") {
        bound = INFINITY;
      } else {
        char* end = nullptr;
        bound = std::strtod(le.c_str(), &end);
        if (le.empty() || *end != '\0') throw std::runtime_error(f.name + ": le=\"" + le + "\" is not a number");
      }
      series[key].buckets.emplace_back(bound, s.value);
    } else if (s.name == f.name + "_sum") {
      if (key.count("le")) throw std::runtime_error(f.name + "_sum has an le label");
      series[key].sum = s.value;
    } else if (s.name == f.name + "_count") {
      if (key.count("le")) throw std::runtime_error(f.name + "_count has an le label");
      series[key].count = s.value;
    } else {
      throw std::runtime_error("histogram " + f.name + " has a sample named " + s.name);
    }
  }
  if (series.empty()) throw std::runtime_error("histogram " + f.name + " has no samples");
  for (const auto& [labels, s] : series) {
    if (s.buckets.empty()) throw std::runtime_error(f.name + ": a series without buckets");
    for (size_t i = 1; i < s.buckets.size(); ++i) {
      if (!(s.buckets[i].first > s.buckets[i - 1].first))
        throw std::runtime_error(f.name + ": bucket bounds are not strictly increasing");
      if (s.buckets[i].second < s.buckets[i - 1].second)
        throw std::runtime_error(f.name + ": bucket counts are not cumulative");
    }
    if (!std::isinf(s.buckets.back().first)) throw std::runtime_error(f.name + ": the last bucket is not le=\"+Inf\"");
    if (!s.sum) throw std::runtime_error(f.name + ": no _sum");
    if (!s.count) throw std::runtime_error(f.name + ": no _count");
    if (*s.count != s.buckets.back().second)
      throw std::runtime_error(f.name + ": _count differs from the +Inf bucket");
    if (s.buckets.front().second < 0) throw std::runtime_error(f.name + ": a negative bucket count");
  }
}

}  // namespace detail

inline Exposition parse(const std::string& text) {
  using namespace detail;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("the exposition does not end with a newline");
  Exposition ex;
  std::set<std::string> finished;  // families whose samples ended (another family's sample came)
  std::string current;             // family of the previous sample
  std::set<std::pair<std::string, Labels>> seen;
  std::set<std::string> typed;  // families with a # TYPE line
  std::istringstream in(text);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (!line.empty() && line.back() == '\r') fail(line_no, line, "carriage return");
    if (line[0] == '#') {
      std::istringstream ls(line.substr(1));
      std::string kw, name;
      ls >> kw >> name;
      if (kw != "HELP" && kw != "TYPE") continue;  // a plain comment
      if (!is_metric_name(name)) fail(line_no, line, "bad metric name '" + name + "'");
      Family& f = ex.families[name];
      f.name = name;
      if (!f.samples.empty()) fail(line_no, line, kw + " after the family's samples");
      const std::string key = kw + " " + name;
      if (seen.count({key, {}})) fail(line_no, line, "a second " + kw + " for " + name);
      seen.insert({key, {}});
      std::string rest;
      std::getline(ls >> std::ws, rest);
      if (kw == "TYPE") {
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(rest)) fail(line_no, line, "unknown type '" + rest + "'");
        f.type = rest;
        typed.insert(name);
      } else {
        f.help = rest;
      }
      continue;
    }
    // A sample.
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    Sample s;
    s.name = line.substr(0, i);
    if (!is_metric_name(s.name)) fail(line_no, line, "bad metric name '" + s.name + "'");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) fail(line_no, line, "label without '='");
        const std::string lname = line.substr(i, eq - i);
        if (!is_label_name(lname)) fail(line_no, line, "bad label name '" + lname + "'");
        if (lname.rfind("__", 0) == 0) fail(line_no, line, "reserved label name '" + lname + "'");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') fail(line_no, line, "label value not quoted");
        ++i;
        std::string value;
        while (true) {
          if (i >= line.size()) fail(line_no, line, "unterminated label value");
          const char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) fail(line_no, line, "dangling escape");
            const char e = line[i++];
            if (e == '\\') value += '\\';
            else if (e == '"') value += '"';
            else if (e == 'n') value += '\n';
            else fail(line_no, line, std::string("bad escape \\") + e);
          } else {
            value += c;
          }
        }
        if (s.labels.count(lname)) fail(line_no, line, "label '" + lname + "' twice");
        s.labels[lname] = value;
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        fail(line_no, line, "expected ',' or '}' after a label");
      }
    }
    if (i >= line.size() || line[i] != ' ') fail(line_no, line, "expected one space before the value");
    ++i;
    const std::string rest = line.substr(i);
    std::istringstream rs(rest);
    std::string value, ts, extra;
    rs >> value >> ts >> extra;
    if (value.empty() || rest.find("  ") != std::string::npos) fail(line_no, line, "bad spacing before the value");
    if (!extra.empty()) fail(line_no, line, "trailing text after the value and timestamp");
    s.value = parse_value(value, line_no, line);
    if (!ts.empty()) {
      if (!is_integer(ts)) fail(line_no, line, "bad timestamp '" + ts + "'");
    }
    const std::string fam = family_of(s.name, ex.families);
    auto it = ex.families.find(fam);
    if (it == ex.families.end() || !typed.count(fam)) {
      fail(line_no, line, "sample of '" + fam + "' before its # TYPE");
    }
    if (fam != current) {
      if (finished.count(fam)) fail(line_no, line, "samples of '" + fam + "' are not contiguous");
      if (!current.empty()) finished.insert(current);
      current = fam;
    }
    Family& f = it->second;
    if ((f.type == "counter" || f.type == "gauge") && s.name != fam)
      fail(line_no, line, "a " + f.type + " sample must be named '" + fam + "'");
    if (f.type == "counter" && !(s.value >= 0)) fail(line_no, line, "a counter must be >= 0");
    if (!seen.insert({s.name, s.labels}).second) fail(line_no, line, "a duplicate series");
    f.samples.push_back(std::move(s));
  }
  for (const auto& [name, f] : ex.families) {
    if (f.type == "histogram") detail::check_histogram(f);
  }
  return ex;
}

}  // namespace lookout::server_test::prom
