#include "cli/output.h"

#include "cli/stats.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace lookout::cli {

namespace {

// The shortest decimal that reads back as `v` ("0.96", not 0.9599999785...).
std::string shortest(float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

// A float as a JSON number without float->double noise.
double clean(float v) { return std::strtod(shortest(v).c_str(), nullptr); }

// Compact JSON; bytes that are not UTF-8 (file names on Linux may hold any)
// become U+FFFD instead of throwing.
std::string dump(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace); }

double round_ms(double ms) { return std::round(ms * 1000.0) / 1000.0; }

nlohmann::ordered_json box_json(const detect::Box& b) {
  return {{"xmin", clean(b.xmin)}, {"ymin", clean(b.ymin)}, {"xmax", clean(b.xmax)}, {"ymax", clean(b.ymax)}};
}

// "123" -> 123; anything else (empty, non-digits, too long for int64) -> -1.
int64_t parse_id(const std::string& digits) {
  if (digits.empty() || digits.size() > 18) return -1;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// The number a COCO-style file name is made of, or -1.
int64_t file_name_id(const std::string& file) {
  const std::string stem = std::filesystem::path(file).stem().string();
  if (const int64_t id = parse_id(stem); id >= 0) return id;
  // COCO 2014: COCO_<split>_<digits>
  if (stem.rfind("COCO_", 0) == 0) {
    const size_t us = stem.rfind('_');
    if (us > 4) return parse_id(stem.substr(us + 1));
  }
  return -1;
}

// RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// ---- formats ---------------------------------------------------------------

class TableWriter : public Writer {
 public:
  explicit TableWriter(std::ostream& out) : out_(out) {}
  void write(const ImageRecord& r) override {
    if (!r.ok()) {
      out_ << r.file << "  FAILED: " << r.error << "\n" << std::flush;
      return;
    }
    const auto& res = r.result;
    char line[256];
    std::snprintf(line, sizeof line, "  %dx%d  %.1f ms  %zu object%s", res.width, res.height, res.timing.total_ms(),
                  res.detections.size(), res.detections.size() == 1 ? "" : "s");
    out_ << r.file << line;
    if (res.orientation != 1) out_ << "  (EXIF orientation " << res.orientation << ")";
    out_ << "\n";
    for (const auto& d : res.detections) {
      std::snprintf(line, sizeof line, "  %-14s %.2f  [%ld, %ld, %ld, %ld]\n", d.label.c_str(),
                    static_cast<double>(d.score), std::lround(d.box_px.xmin), std::lround(d.box_px.ymin),
                    std::lround(d.box_px.xmax), std::lround(d.box_px.ymax));
      out_ << line;
    }
    out_ << std::flush;
  }

 private:
  std::ostream& out_;
};

class JsonWriter : public Writer {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}
  void begin() override { out_ << "{\"images\":[" << std::flush; }
  void write(const ImageRecord& r) override {
    out_ << (first_ ? "\n" : ",\n") << dump(record_json(r)) << std::flush;
    first_ = false;
  }
  void end(const Summary& s) override { out_ << "\n],\n\"summary\":" << dump(s.to_json()) << "}\n" << std::flush; }

 private:
  std::ostream& out_;
  bool first_ = true;
};

class JsonlWriter : public Writer {
 public:
  explicit JsonlWriter(std::ostream& out) : out_(out) {}
  void write(const ImageRecord& r) override { out_ << dump(record_json(r)) << "\n" << std::flush; }

 private:
  std::ostream& out_;
};

class CsvWriter : public Writer {
 public:
  explicit CsvWriter(std::ostream& out) : out_(out) {}
  void begin() override {
    out_ << "file,width,height,class_id,label,score,xmin,ymin,xmax,ymax,xmin_norm,ymin_norm,xmax_norm,ymax_norm,error\n"
         << std::flush;
  }
  void write(const ImageRecord& r) override {
    const std::string file = csv_field(r.file);
    if (!r.ok()) {
      out_ << file << ",,,,,,,,,,,,,," << csv_field(r.error) << "\n" << std::flush;
      return;
    }
    for (const auto& d : r.result.detections) {
      out_ << file << ',' << r.result.width << ',' << r.result.height << ',' << d.class_id << ',' << csv_field(d.label)
           << ',' << shortest(d.score) << ',' << shortest(d.box_px.xmin) << ',' << shortest(d.box_px.ymin) << ','
           << shortest(d.box_px.xmax) << ',' << shortest(d.box_px.ymax) << ',' << shortest(d.box.xmin) << ','
           << shortest(d.box.ymin) << ',' << shortest(d.box.xmax) << ',' << shortest(d.box.ymax) << ",\n";
    }
    out_ << std::flush;
  }

 private:
  std::ostream& out_;
};

class CocoWriter : public Writer {
 public:
  explicit CocoWriter(std::ostream& out) : out_(out) {}
  void begin() override { out_ << "[" << std::flush; }
  void write(const ImageRecord& r) override {
    if (!r.ok()) return;
    for (const auto& d : r.result.detections) {
      const nlohmann::ordered_json entry = {
          {"image_id", r.image_id},
          {"category_id", detect::Labels::coco_category_id(d.class_id)},
          {"bbox",
           {clean(d.box_px.xmin), clean(d.box_px.ymin), clean(d.box_px.xmax - d.box_px.xmin),
            clean(d.box_px.ymax - d.box_px.ymin)}},
          {"score", clean(d.score)}};
      out_ << (first_ ? "\n" : ",\n") << dump(entry);
      first_ = false;
    }
    out_ << std::flush;
  }
  void end(const Summary&) override { out_ << (first_ ? "]\n" : "\n]\n") << std::flush; }

 private:
  std::ostream& out_;
  bool first_ = true;
};

}  // namespace

std::vector<int64_t> coco_image_ids(const std::vector<std::string>& files) {
  std::vector<int64_t> ids;
  std::set<int64_t> seen;
  bool from_names = true;
  for (const auto& f : files) {
    const int64_t id = file_name_id(f);
    if (id < 0 || !seen.insert(id).second) {
      from_names = false;
      break;
    }
    ids.push_back(id);
  }
  if (from_names) return ids;
  ids.clear();
  for (size_t i = 0; i < files.size(); ++i) ids.push_back(static_cast<int64_t>(i) + 1);
  return ids;
}

nlohmann::ordered_json record_json(const ImageRecord& r) {
  if (!r.ok()) return {{"file", r.file}, {"error", r.error}};
  const auto& res = r.result;
  nlohmann::ordered_json dets = nlohmann::ordered_json::array();
  for (const auto& d : res.detections)
    dets.push_back({{"class_id", d.class_id},
                    {"label", d.label},
                    {"score", clean(d.score)},
                    {"box", box_json(d.box)},
                    {"box_px", box_json(d.box_px)}});
  const auto& t = res.timing;
  return {{"file", r.file},
          {"width", res.width},
          {"height", res.height},
          {"orientation", res.orientation},
          {"detections", std::move(dets)},
          {"timing_ms",
           {{"decode", round_ms(t.decode_ms)},
            {"preprocess", round_ms(t.preprocess_ms)},
            {"inference", round_ms(t.inference_ms)},
            {"postprocess", round_ms(t.postprocess_ms)},
            {"total", round_ms(t.total_ms())}}}};
}

// ---- summary ---------------------------------------------------------------

void Summary::add(const ImageRecord& r) {
  ++images_;
  if (!r.ok()) {
    failures_.emplace_back(r.file, r.error);
    return;
  }
  const auto& t = r.result.timing;
  decode_.push_back(t.decode_ms);
  preprocess_.push_back(t.preprocess_ms);
  inference_.push_back(t.inference_ms);
  postprocess_.push_back(t.postprocess_ms);
  total_.push_back(t.total_ms());
  for (const auto& d : r.result.detections) {
    ++per_class_[d.label];
    ++detections_;
  }
}

void Summary::set_run(double wall_s, double setup_s, int jobs, int threads, const std::string& backend) {
  wall_s_ = wall_s;
  setup_s_ = setup_s;
  jobs_ = jobs;
  threads_ = threads;
  backend_ = backend;
}

namespace {

// Classes by count, most first; ties by name.
std::vector<std::pair<std::string, size_t>> ranked(const std::map<std::string, size_t>& per_class) {
  std::vector<std::pair<std::string, size_t>> v(per_class.begin(), per_class.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return v;
}

nlohmann::ordered_json stage_json(const std::vector<double>& v) {
  return {{"mean", round_ms(mean(v))}, {"median", round_ms(percentile(v, 0.5))}, {"p90", round_ms(percentile(v, 0.9))}};
}

}  // namespace

nlohmann::ordered_json Summary::to_json() const {
  nlohmann::ordered_json failures = nlohmann::ordered_json::array();
  for (const auto& [file, reason] : failures_) failures.push_back({{"file", file}, {"error", reason}});
  nlohmann::ordered_json classes = nlohmann::ordered_json::object();
  for (const auto& [name, n] : per_class_) classes[name] = n;
  return {{"images", images_},
          {"ok", images_ - failures_.size()},
          {"failed", failures_.size()},
          {"failures", std::move(failures)},
          {"detections", detections_},
          {"detections_per_class", std::move(classes)},
          {"ms",
           {{"decode", stage_json(decode_)},
            {"preprocess", stage_json(preprocess_)},
            {"inference", stage_json(inference_)},
            {"postprocess", stage_json(postprocess_)},
            {"total", stage_json(total_)}}},
          {"wall_s", round_ms(wall_s_)},
          {"model_load_s", round_ms(setup_s_)},
          {"images_per_s", wall_s_ > 0 ? round_ms(static_cast<double>(images_) / wall_s_) : 0.0},
          {"jobs", jobs_},
          {"threads_per_job", threads_},
          {"backend", backend_}};
}

std::string Summary::text() const {
  constexpr size_t kTopClasses = 8;
  std::string out;
  char line[512];
  const double rate = wall_s_ > 0 ? static_cast<double>(images_) / wall_s_ : 0.0;
  std::snprintf(line, sizeof line,
                "lookout detect: %zu image%s, %zu ok, %zu failed; %.2f s, %.1f images/s (%d job%s x %d thread%s, %s; "
                "model load %.2f s)\n",
                images_, images_ == 1 ? "" : "s", images_ - failures_.size(), failures_.size(), wall_s_, rate, jobs_,
                jobs_ == 1 ? "" : "s", threads_, threads_ == 1 ? "" : "s", backend_.c_str(), setup_s_);
  out += line;

  out += "  detections: " + std::to_string(detections_);
  const auto classes = ranked(per_class_);
  for (size_t i = 0; i < classes.size() && i < kTopClasses; ++i)
    out += (i == 0 ? " (" : ", ") + classes[i].first + " " + std::to_string(classes[i].second);
  if (classes.size() > kTopClasses) out += ", +" + std::to_string(classes.size() - kTopClasses) + " more classes";
  if (!classes.empty()) out += ")";
  out += "\n";

  if (!total_.empty()) {
    out += "  ms/image      decode  preprocess  inference  postprocess    total\n";
    const std::pair<const char*, double> rows[] = {{"mean", -1}, {"median", 0.5}, {"p90", 0.9}};
    for (const auto& [name, p] : rows) {
      auto stat = [&](const std::vector<double>& v) { return p < 0 ? mean(v) : percentile(v, p); };
      std::snprintf(line, sizeof line, "  %-10s %9.2f %11.2f %10.2f %12.2f %8.2f\n", name, stat(decode_),
                    stat(preprocess_), stat(inference_), stat(postprocess_), stat(total_));
      out += line;
    }
  }
  if (!failures_.empty()) {
    out += "  failed:\n";
    for (const auto& [file, reason] : failures_) out += "    " + file + ": " + reason + "\n";
  }
  return out;
}

std::unique_ptr<Writer> make_writer(const std::string& format, std::ostream& out) {
  if (format == "table") return std::make_unique<TableWriter>(out);
  if (format == "json") return std::make_unique<JsonWriter>(out);
  if (format == "jsonl") return std::make_unique<JsonlWriter>(out);
  if (format == "csv") return std::make_unique<CsvWriter>(out);
  if (format == "coco") return std::make_unique<CocoWriter>(out);
  throw std::invalid_argument("unknown format '" + format + "' (table, json, jsonl, csv or coco)");
}

}  // namespace lookout::cli
