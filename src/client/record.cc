#include "client/record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace lookout::client {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// Three decimals are plenty for milliseconds and keep the lines short.
double ms3(double v) { return std::round(v * 1000.0) / 1000.0; }
double score4(double v) { return std::round(v * 10000.0) / 10000.0; }
double box5(double v) { return std::round(v * 100000.0) / 100000.0; }

void write_all(int fd, const std::string& s, const fs::path& path) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
}

}  // namespace

ojson to_json(const Record& r) {
  ojson dets = ojson::array();
  for (const DetectionRecord& d : r.detections)
    dets.push_back({{"class_id", d.class_id},
                    {"label", d.label},
                    {"score", score4(d.score)},
                    {"box", {{"xmin", box5(d.xmin)}, {"ymin", box5(d.ymin)}, {"xmax", box5(d.xmax)}, {"ymax", box5(d.ymax)}}}});
  const TimingRecord& t = r.timing;
  ojson j = {{"image", r.image},
             {"collection", r.collection},
             {"target", r.target},
             {"schedule", r.schedule},
             {"label", r.label},
             {"ok", r.ok},
             {"status", r.status},
             {"error", r.ok ? ojson(nullptr) : ojson(r.error)},
             {"permanent", r.permanent},
             {"file_bytes", r.file_bytes},
             {"bytes_sent", r.bytes_sent},
             {"response_bytes", r.response_bytes},
             {"width", r.width},
             {"height", r.height},
             {"timing_ms",
              {{"upload", ms3(t.upload)},
               {"queue", ms3(t.queue)},
               {"decode", ms3(t.decode)},
               {"preprocess", ms3(t.preprocess)},
               {"inference", ms3(t.inference)},
               {"postprocess", ms3(t.postprocess)},
               {"round_trip", ms3(t.round_trip)},
               {"total", ms3(t.total)}}},
             {"detections", std::move(dets)},
             {"attempts", r.attempts},
             {"finished_at", r.finished_at}};
  return j;
}

Record record_from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("not a JSON object");
  for (const char* key : {"image", "target"})
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      throw std::invalid_argument(std::string("no \"") + key + "\" string");
  if (!j.contains("ok") || !j["ok"].is_boolean()) throw std::invalid_argument("no \"ok\" true/false");
  if (j["ok"].get<bool>() && !(j.contains("timing_ms") && j["timing_ms"].is_object()))
    throw std::invalid_argument("a successful record without \"timing_ms\"");
  auto num = [](const json& o, const char* k) { return o.contains(k) && o[k].is_number() ? o[k].get<double>() : 0.0; };
  // Counts and sizes: non-negative integers, else 0 (a hand-edited -1 or 1e300 is not converted).
  auto count = [&](const json& o, const char* k, double max) {
    const double v = num(o, k);
    return v >= 0 && v <= max ? v : 0.0;
  };
  auto str = [](const json& o, const char* k) { return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : ""; };
  Record r;
  r.image = j["image"].get<std::string>();
  r.collection = str(j, "collection");
  r.target = str(j, "target");
  r.schedule = str(j, "schedule");
  r.label = str(j, "label");
  r.ok = j["ok"].get<bool>();
  r.status = static_cast<int>(count(j, "status", 999));
  r.error = str(j, "error");
  r.permanent = j.contains("permanent") && j["permanent"].is_boolean() && j["permanent"].get<bool>();
  r.file_bytes = static_cast<uint64_t>(count(j, "file_bytes", 1e18));
  r.bytes_sent = static_cast<uint64_t>(count(j, "bytes_sent", 1e18));
  r.response_bytes = static_cast<uint64_t>(count(j, "response_bytes", 1e18));
  r.width = static_cast<int>(count(j, "width", 1e9));
  r.height = static_cast<int>(count(j, "height", 1e9));
  if (j.contains("timing_ms") && j["timing_ms"].is_object()) {
    const json& t = j["timing_ms"];
    r.timing = {num(t, "upload"), num(t, "queue"), num(t, "decode"), num(t, "preprocess"),
                num(t, "inference"), num(t, "postprocess"), num(t, "round_trip"), num(t, "total")};
  }
  if (j.contains("detections") && j["detections"].is_array())
    for (const json& d : j["detections"]) {
      DetectionRecord dr;
      dr.class_id = static_cast<int>(count(d, "class_id", 1e9));
      dr.label = str(d, "label");
      dr.score = num(d, "score");
      if (d.contains("box") && d["box"].is_object()) {
        const json& b = d["box"];
        dr.xmin = num(b, "xmin");
        dr.ymin = num(b, "ymin");
        dr.xmax = num(b, "xmax");
        dr.ymax = num(b, "ymax");
      }
      r.detections.push_back(std::move(dr));
    }
  r.attempts = static_cast<int>(count(j, "attempts", 1e9));
  r.finished_at = str(j, "finished_at");
  return r;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t tt = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::vector<Record> read_records(const fs::path& path, std::vector<std::string>* warnings) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  return read_records(in, path.string(), warnings);
}

std::vector<Record> read_records(std::istream& in, const std::string& name, std::vector<std::string>* warnings) {
  std::vector<Record> records;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string why;
    try {
      records.push_back(record_from_json(json::parse(line)));
      continue;
    } catch (const json::parse_error& e) {
      // nlohmann's message starts with "[json.exception.parse_error.101] ".
      const std::string what = e.what();
      const size_t tag_end = what.find("] ");
      why = "not JSON: " + (tag_end == std::string::npos ? what : what.substr(tag_end + 2));
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (warnings) warnings->push_back(name + ":" + std::to_string(n) + ": " + why);
  }
  return records;
}

ResultsFile::ResultsFile(const fs::path& path) : path_(path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::vector<std::string> skipped;
    std::vector<Record> all = read_records(path, &skipped);
    dropped_ = skipped.size();
    // The last record of an image wins (an older file may hold retries).
    std::vector<Record> kept;
    for (Record& r : all) {
      if (!r.done()) {
        ++dropped_;
        continue;
      }
      if (!done_.insert(r.collection + '\n' + r.image).second) {
        ++dropped_;
        continue;
      }
      kept.push_back(std::move(r));
    }
    if (dropped_ > 0) {
      const fs::path tmp = fs::path(path.string() + ".tmp");
      {
        std::ofstream out(tmp, std::ios::trunc);
        for (const Record& r : kept) out << to_json(r).dump(-1, ' ', false, ojson::error_handler_t::replace) << '\n';
        out.flush();
        if (!out) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
      }
      fs::rename(tmp, path, ec);
      if (ec) throw std::runtime_error("cannot replace " + path.string() + ": " + ec.message());
    }
    previous_ = std::move(kept);
  } else if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + " for writing: " + std::strerror(errno));
}

ResultsFile::~ResultsFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsFile::append(const Record& r) {
  const std::string line = to_json(r).dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
  std::lock_guard lock(mu_);
  write_all(fd_, line, path_);
}

}  // namespace lookout::client
