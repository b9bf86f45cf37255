#include "cli/output.h"

#include "cli/stats.h"
#include "wire/number.h"

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

double round_ms(double ms) { return wire::ms(ms); }

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

// ---- formats ---------------------------------------------------------------

class TableWriter : public Writer {
 public:
  using Writer::Writer;
  void write(const wire::DetectedFile& f, int64_t) override {
    if (f.error) {
      out_ << f.file << "  FAILED: " << *f.error << "\n" << std::flush;
      return;
    }
    char line[256];
    std::snprintf(line, sizeof line, "  %dx%d  %.1f ms  %zu object%s", f.width, f.height, f.timing.total,
                  f.detections.size(), f.detections.size() == 1 ? "" : "s");
    out_ << f.file << line;
    if (f.orientation != 1) out_ << "  (EXIF orientation " << f.orientation << ")";
    out_ << "\n";
    for (const wire::Detection& d : f.detections) {
      const wire::Box px = d.box_px.value_or(wire::Box{});
      std::snprintf(line, sizeof line, "  %-14s %.2f  [%ld, %ld, %ld, %ld]\n", d.label.c_str(),
                    static_cast<double>(d.score), std::lround(px.xmin), std::lround(px.ymin), std::lround(px.xmax),
                    std::lround(px.ymax));
      out_ << line;
    }
    out_ << std::flush;
  }
};

class JsonWriter : public Writer {
 public:
  using Writer::Writer;
  void begin() override { out_ << "{\"images\":[" << std::flush; }
  void write(const wire::DetectedFile& f, int64_t) override {
    out_ << (first_ ? "\n" : ",\n") << wire::dump(f) << std::flush;
    first_ = false;
  }
  void end(const Summary& s) override { out_ << "\n],\n\"summary\":" << wire::dump(s.to_json()) << "}\n" << std::flush; }

 private:
  bool first_ = true;
};

class JsonlWriter : public Writer {
 public:
  using Writer::Writer;
  void write(const wire::DetectedFile& f, int64_t) override { out_ << wire::dump(f) << "\n" << std::flush; }
};

class CsvWriter : public Writer {
 public:
  using Writer::Writer;
  void begin() override { out_ << wire::csv_header() << std::flush; }
  void write(const wire::DetectedFile& f, int64_t) override { out_ << wire::csv_rows(f) << std::flush; }
};

class CocoWriter : public Writer {
 public:
  using Writer::Writer;
  void begin() override { out_ << "[" << std::flush; }
  void write(const wire::DetectedFile& f, int64_t image_id) override {
    for (const wire::CocoResult& entry : wire::coco_results(image_id, f)) {
      out_ << (first_ ? "\n" : ",\n") << wire::dump(entry);
      first_ = false;
    }
    out_ << std::flush;
  }
  void end(const Summary&) override { out_ << (first_ ? "]\n" : "\n]\n") << std::flush; }

 private:
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

// ---- summary ---------------------------------------------------------------

void Summary::add(const wire::DetectedFile& f) {
  ++images_;
  if (f.error) {
    failures_.emplace_back(f.file, *f.error);
    return;
  }
  const wire::StageTimes& t = f.timing;
  decode_.push_back(t.decode);
  preprocess_.push_back(t.preprocess);
  inference_.push_back(t.inference);
  postprocess_.push_back(t.postprocess);
  total_.push_back(t.total);
  for (const wire::Detection& d : f.detections) {
    ++per_class_[d.label];
    ++detections_;
  }
}

void Summary::set_run(double wall_s, double setup_s, int jobs, int threads, const std::string& backend,
                      const std::string& isa) {
  wall_s_ = wall_s;
  setup_s_ = setup_s;
  jobs_ = jobs;
  threads_ = threads;
  backend_ = backend;
  isa_ = isa;
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
          {"backend", backend_},
          {"isa", isa_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(isa_)}};
}

std::string Summary::text() const {
  constexpr size_t kTopClasses = 8;
  std::string out;
  char line[512];
  const double rate = wall_s_ > 0 ? static_cast<double>(images_) / wall_s_ : 0.0;
  const std::string engine = backend_ + " backend" + (isa_.empty() ? "" : ", ISA " + isa_);
  std::snprintf(line, sizeof line,
                "lookout detect: %zu image%s, %zu ok, %zu failed; %.2f s, %.1f images/s (%d job%s x %d thread%s, %s; "
                "model load %.2f s)\n",
                images_, images_ == 1 ? "" : "s", images_ - failures_.size(), failures_.size(), wall_s_, rate, jobs_,
                jobs_ == 1 ? "" : "s", threads_, threads_ == 1 ? "" : "s", engine.c_str(), setup_s_);
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
