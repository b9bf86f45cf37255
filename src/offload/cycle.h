// The measure-model-validate cycle of `lookout offload`, as steps a caller
// strings together and prints as it likes: `lookout offload` runs it once,
// `lookout map` once per cell of its grid.
//   1. measure_and_fit: the sample timed on both sides, the cost model fitted;
//   2. the caller prints the model and its verdict;
//   3. run_validation: the whole collection local alone, hybrid, remote
//      alone and local alone again, each into a results file; cycle_summary
//      puts what they measured beside the prediction in the summary.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "client/run.h"
#include "offload/cost_model.h"
#include "wire/offload.h"

namespace lookout::offload {

struct Cycle {
  std::vector<client::ImageFile> jobs;
  std::string collection;
  client::TargetSpec remote;
  // plan.local_workers detectors and plan.remote_concurrency requests in
  // flight for the hybrid run (local and remote alone run one each).
  client::WorkerPlan plan;
  size_t sample_size = 16;
  int rounds = 3;
  // Each validation run goes over the collection as many times as it takes
  // (by the prediction) to last this long, and reports the wall time of one
  // pass: on a machine whose speed swings every few hundred ms, a run of a
  // third of a second measures a swing, not the mean. 0: once.
  double min_run_s = 0;
};

// 1. Throws std::runtime_error saying why a side cannot be measured. With
// a `sample_dir`, the sample's records go there as JSON lines, to see what
// the model was fitted on: local.jsonl, remote.jsonl (per image the median
// round trip), beside.jsonl (both sides at once) and, when downscaled,
// link-probe.jsonl.
CostModel measure_and_fit(const Cycle& cycle, const std::filesystem::path& sample_dir = {});

// Each image's request bytes in the run's order, for CostModel::hybrid:
// the file, or with resize_before_upload the sample's mean upload.
std::vector<double> request_bytes(const Cycle& cycle, const CostModel& model);

// What the three validation runs measured (wall times per pass of the collection).
struct Validation {
  RunMeasurement local, remote, hybrid;
  RunMeasurement local_again;  // the local run repeated after the others
  size_t hybrid_local_images = 0, hybrid_remote_images = 0;
  size_t failures = 0;  // images that failed in any run
  // The hybrid run's passes over the collection, and the prediction for
  // one of them as that run plays out (its tail spread over the passes).
  int hybrid_passes = 1;
  HybridPrediction hybrid_predicted;
  std::string link;     // "9.88 Mbit/s, 40.1 ms RTT": the label of the runs that crossed the link
};

// Called before each run ("local", "remote", "hybrid") with its image count
// and after each image with the count done.
using RunProgress = std::function<void(const char* run, size_t done, size_t total)>;

// How many passes over the collection a validation run predicted to take
// `predicted_s` per pass makes to last cycle.min_run_s.
int validation_passes(const Cycle& cycle, double predicted_s);
// The hybrid schedule over `passes` passes of the collection, per pass.
HybridPrediction hybrid_prediction(const Cycle& cycle, const CostModel& model, int passes);

// 3. Writes local.jsonl, hybrid.jsonl, remote.jsonl and local-again.jsonl
// into `out_dir`, in that order.
// Throws std::runtime_error when a run cannot start or write.
Validation run_validation(const Cycle& cycle, const CostModel& model, const std::filesystem::path& out_dir,
                          const RunProgress& progress);

// The summary of a cycle: the model's (CostModel::summary) with the hybrid
// prediction, and with `validation` when there is one (its hybrid
// prediction then replaces `hybrid`).
wire::OffloadSummary cycle_summary(const Cycle& cycle, const CostModel& model, const HybridPrediction& hybrid,
                                   const Validation* validation);

}  // namespace lookout::offload
