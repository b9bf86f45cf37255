// `lookout detect` results: one wire::DetectedFile per input image, written as
// it comes (in input order) in one of the formats, and the closing summary.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wire/detection.h"

namespace lookout::cli {

// COCO image ids for the inputs, in order: when every file name is a
// number (COCO val2017 style 000000397133.jpg -> 397133, or COCO 2014
// style COCO_val2014_000000397133.jpg) and those numbers are distinct, the
// numbers; otherwise the 1-based position of each file in input order
// (mixing both could give two images the same id).
std::vector<int64_t> coco_image_ids(const std::vector<std::string>& files);

// Counts, per-stage times and failures over the records, for the closing
// summary (stderr, always) and the json format's "summary".
class Summary {
 public:
  void add(const wire::DetectedFile& file);
  // isa: the level of our own kernels, "" for the reference backend.
  void set_run(double wall_s, double setup_s, int jobs, int threads, const std::string& backend,
               const std::string& isa);

  size_t images() const { return images_; }
  size_t failed() const { return failures_.size(); }
  nlohmann::ordered_json to_json() const;
  // One compact block for a person: counts, failures with reasons, top
  // classes, mean/median/p90 ms per stage, wall time and images/s.
  std::string text() const;

 private:
  size_t images_ = 0;
  size_t detections_ = 0;
  std::vector<std::pair<std::string, std::string>> failures_;  // file, reason
  std::map<std::string, size_t> per_class_;
  std::vector<double> decode_, preprocess_, inference_, postprocess_, total_;
  double wall_s_ = 0, setup_s_ = 0;
  int jobs_ = 0, threads_ = 0;
  std::string backend_, isa_;
};

// Writes records in one format. begin() before the first record, end() after
// the last (with the summary, which only the json format embeds).
class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  virtual ~Writer() = default;
  virtual void begin() {}
  // `image_id`: the file's COCO image id (coco_image_ids), for the coco format.
  virtual void write(const wire::DetectedFile& file, int64_t image_id) = 0;
  virtual void end(const Summary& summary) { (void)summary; }

 protected:
  std::ostream& out_;
};

inline const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = {"table", "json", "jsonl", "csv", "coco"};
  return names;
}

// Throws std::invalid_argument for an unknown format.
std::unique_ptr<Writer> make_writer(const std::string& format, std::ostream& out);

}  // namespace lookout::cli
