// A collection sent to one or more targets: every worker (local detectors
// and HTTP connections alike) pulls the next image from one shared queue,
// so a faster side takes more (and leaves a slow one no tail to hold up:
// leave_to_others). Each record is appended to the
// results file as it completes; images already done there are skipped.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/record.h"
#include "client/target.h"

namespace lookout::client {

// The images of a collection directory, in path order, named relative to it.
std::vector<ImageFile> collection_jobs(const std::filesystem::path& dir);

// The name records carry for a collection directory: its last component.
std::string collection_name(const std::filesystem::path& dir);

// "local" | "remote" | "hybrid" | "scale-out" for a set of targets.
std::string schedule_name(const std::vector<TargetSpec>& targets);

struct WorkerSlot {
  std::string target;              // the target's name, for errors
  std::unique_ptr<Worker> worker;
  // What it expects an image to take, expected_ms + expected_ms_per_byte x
  // the file's bytes (both 0: unknown). Without a per-byte part this holds
  // until it has done an image (then its mean does); with one (a remote
  // at a slow link) it is kept for the image at hand, so that the last big
  // photo is not handed to a link that takes seconds for it.
  double expected_ms = 0, expected_ms_per_byte = 0;
};

// The hand-out rule of a shared queue with workers of different speeds: a
// free worker leaves the `remaining` images to the others when they would
// finish them all before it finishes one (taking one then only makes the
// run longer: the slow side's last image is the whole tail). `others`:
// each other worker still taking images, with its time per image and what
// is left of the image it is on (0 when free); a pace of 0 is unknown, and
// nothing is left to anyone then (nor by a worker of unknown pace).
struct OtherWorker {
  double ms_per_image;
  double left_ms;
};
bool leave_to_others(double my_ms_per_image, const std::vector<OtherWorker>& others, size_t remaining);

// The workers for `targets`: `local_workers` detectors for "local" (each
// with `detector.engine.threads` engine threads), `remote_concurrency`
// connections per server. `model` and `labels` may be null when no target is
// local. Throws std::runtime_error when a worker cannot be made.
struct WorkerPlan {
  int local_workers = 1;
  int remote_concurrency = 1;
  std::shared_ptr<const engine::Model> model;
  std::shared_ptr<const detect::Labels> labels;
  detect::DetectorOptions detector;
  HttpOptions http;
};
std::vector<WorkerSlot> make_workers(const std::vector<TargetSpec>& targets, const WorkerPlan& plan);

struct RunStats {
  size_t skipped = 0;              // already done in the results file
  size_t sent = 0;                 // records written in this run
  double wall_s = 0;
};

// What every record of one run is stamped with.
struct RunStamp {
  std::string collection;  // collection_name(dir)
  std::string schedule;    // schedule_name(targets)
  std::string label;       // the user's name for the run; may be ""
};

// Runs `jobs` on `workers` (one thread each), stamping every record with
// `stamp`, appending it to `out` (may be null) and then handing it to
// `on_record` (may be empty; called under a lock, one at a time). Jobs for
// which `skip(collection, image)` is true are not sent. Each free worker
// takes the next job unless leave_to_others says the rest is better left
// to the others (paces: the mean time of each worker's successful images
// so far, else what it expects; see WorkerSlot). Stops taking new jobs
// once `stop` becomes true.
RunStats process_images(const std::vector<ImageFile>& jobs, std::vector<WorkerSlot>& workers, const RunStamp& stamp,
                  ResultsFile* out, const std::function<bool(const std::string&, const std::string&)>& skip,
                  const std::function<void(const wire::Record&)>& on_record, const std::atomic<bool>* stop = nullptr);

// Per-target means over successful records: the experiment's Table 3.
struct TargetSummary {
  std::string target;
  size_t images = 0, ok = 0, failed = 0;
  double inference_ms = 0, upload_ms = 0, queue_ms = 0, round_trip_ms = 0, total_ms = 0;  // means over ok
  uint64_t file_bytes = 0, bytes_sent = 0;
};
std::vector<TargetSummary> summarize(const std::vector<wire::Record>& records);

// The summary as a fixed-width table (ms), one row per target and "all".
std::string summary_table(const std::vector<TargetSummary>& rows);

}  // namespace lookout::client
