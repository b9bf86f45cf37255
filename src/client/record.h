// One image sent to one target: what was sent, how long each part took, what
// came back. `lookout run` writes one JSON line per record; a rerun reads
// them back to skip what is done. The JSON shape is the lab's file format
// (README "Results file"); `lookout report` and `lookout offload` read it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lookout::client {

struct DetectionRecord {
  int class_id = 0;
  std::string label;
  double score = 0;
  double xmin = 0, ymin = 0, xmax = 0, ymax = 0;  // normalized, upright image
};

// Milliseconds. Local targets have upload = 0 and queue = wait for a detector.
struct TimingRecord {
  double upload = 0;       // client side: request start until the server's kernel acknowledged the last byte
  double queue = 0;        // server: waiting for a detector
  double decode = 0, preprocess = 0, inference = 0, postprocess = 0;
  double round_trip = 0;   // client side: request start until the response is read (local: = total)
  double total = 0;        // what a user waits per image: remote = round_trip, local = the detector's stages
};

struct Record {
  std::string image;         // path relative to the collection directory
  std::string collection;    // the collection directory's name
  std::string target;        // "local" or the URL
  std::string schedule;      // local | remote | hybrid | scale-out: what the whole run was
  std::string label;         // the user's name for the run (`lookout run --label`), e.g. the link setting; may be ""
  bool ok = false;
  int status = 0;            // HTTP status (local: 200 or 400 for a bad image); 0 = no answer
  std::string error;         // why, when !ok
  bool permanent = false;    // a failure a retry cannot fix (bad image, 4xx): a rerun skips it
  uint64_t file_bytes = 0;   // the file on disk
  uint64_t bytes_sent = 0;   // request body sent (after --resize-before-upload)
  uint64_t response_bytes = 0;
  int width = 0, height = 0; // the original image, upright
  TimingRecord timing;
  std::vector<DetectionRecord> detections;
  int attempts = 0;
  std::string finished_at;   // UTC, ISO 8601 with milliseconds

  // Done = nothing left to try: succeeded, or failed for good.
  bool done() const { return ok || permanent; }
  // A remote upload re-encoded before sending (--resize-before-upload).
  bool resized() const { return target != "local" && bytes_sent > 0 && bytes_sent < file_bytes; }
};

nlohmann::ordered_json to_json(const Record& r);
// The one reader of results lines (`lookout run`'s resume, `lookout report`).
// Required: "image" and "target" (non-empty strings), "ok" (true/false),
// and "timing_ms" (an object) when ok; other fields that are missing or of
// another type read as empty or 0. Throws std::invalid_argument with the
// reason for anything else.
Record record_from_json(const nlohmann::json& j);

// Current UTC time as 2026-11-26T16:30:00.123Z.
std::string utc_now();

// The results file of `lookout run`: JSON lines, appended one whole line per
// write, so a crash or kill -9 leaves at most one torn last line.
class ResultsFile {
 public:
  // Reads what is there (if anything): records that are done are kept;
  // transient failures and a torn last line are dropped, and the file is
  // rewritten without them (atomically, via a temporary file), so redoing
  // them adds no duplicate. Then opens it for appending.
  // Throws std::runtime_error when the file cannot be read or written.
  explicit ResultsFile(const std::filesystem::path& path);
  ~ResultsFile();
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  // Whether this file already holds a finished record of `image` in `collection`.
  bool is_done(const std::string& collection, const std::string& image) const {
    return done_.count(collection + '\n' + image) > 0;
  }
  // The records kept from earlier runs.
  const std::vector<Record>& previous() const { return previous_; }
  // Lines dropped when reading (transient failures, torn or foreign lines).
  size_t dropped() const { return dropped_; }

  // Appends one line and hands it to the kernel (thread-safe).
  void append(const Record& r);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex mu_;  // one line at a time
  std::set<std::string> done_;
  std::vector<Record> previous_;
  size_t dropped_ = 0;
};

// Every record in a JSON-lines file (blank lines ignored), skipping lines
// that are not records; `warnings` gets "file:line: reason" for each
// skipped line. Throws std::runtime_error when the file cannot be read.
std::vector<Record> read_records(const std::filesystem::path& path, std::vector<std::string>* warnings);
// The same from text already read; `name` stands for the file in warnings.
std::vector<Record> read_records(std::istream& in, const std::string& name, std::vector<std::string>* warnings);

}  // namespace lookout::client
