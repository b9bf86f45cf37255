#include "offload/cycle.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "offload/measure.h"

namespace lookout::offload {

namespace fs = std::filesystem;

namespace {

void write_records(const fs::path& file, const std::vector<wire::Record>& records) {
  std::ofstream out(file, std::ios::trunc);
  for (const wire::Record& r : records) out << wire::dump(wire::Json(r)) << '\n';
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace

CostModel measure_and_fit(const Cycle& cycle, const fs::path& sample_dir) {
  const std::vector<client::ImageFile> sample = size_spread_sample(cycle.jobs, cycle.sample_size);
  SampleRecords timed;
  {
    // The probe first: the sample ends with the local side alone, just
    // before the validation's local run (time_sample says why).
    std::vector<wire::Record> link_probe;
    if (cycle.plan.http.resize_before_upload) {
      client::HttpOptions as_is = cycle.plan.http;
      as_is.resize_before_upload = false;
      std::unique_ptr<client::Worker> probe = client::make_http_worker(cycle.remote, as_is);
      link_probe = probe_link(*probe, sample, cycle.rounds);
    }
    std::unique_ptr<client::Worker> local =
        client::make_local_worker(cycle.plan.model, cycle.plan.labels, cycle.plan.detector);
    std::unique_ptr<client::Worker> remote = client::make_http_worker(cycle.remote, cycle.plan.http);
    timed = time_sample(*local, *remote, sample, cycle.rounds);
    timed.link_probe = std::move(link_probe);
  }
  if (!sample_dir.empty()) {
    fs::create_directories(sample_dir);
    write_records(sample_dir / "local.jsonl", timed.local);
    write_records(sample_dir / "remote.jsonl", timed.remote);
    std::vector<wire::Record> beside = timed.local_beside;
    beside.insert(beside.end(), timed.remote_beside.begin(), timed.remote_beside.end());
    write_records(sample_dir / "beside.jsonl", beside);
    if (!timed.link_probe.empty()) write_records(sample_dir / "link-probe.jsonl", timed.link_probe);
  }
  // Downscaled before upload, an image's request is what the sample sent
  // (the sample spans the file sizes); else the file as it is.
  double request_bytes = mean_file_bytes(cycle.jobs);
  if (cycle.plan.http.resize_before_upload) {
    double sent = 0;
    size_t ok = 0;
    for (const wire::Record& r : timed.remote)
      if (r.ok) {
        sent += static_cast<double>(r.bytes_sent);
        ++ok;
      }
    if (ok > 0) request_bytes = sent / static_cast<double>(ok);
  }
  return CostModel(local_profile(timed, cycle.plan.local_workers),
                   remote_profile(cycle.remote, cycle.plan.http, timed, request_bytes, cycle.plan.remote_concurrency));
}

std::vector<double> request_bytes(const Cycle& cycle, const CostModel& model) {
  if (cycle.plan.http.resize_before_upload)
    return std::vector<double>(cycle.jobs.size(), model.remote().mean_request_bytes);
  return file_bytes(cycle.jobs);
}

namespace {

struct Run {
  std::vector<wire::Record> records;
  RunMeasurement measured;
};

// The collection on fresh workers for `targets`, `passes` times over, into
// a new results file. `expected`: the model whose paces the workers start
// from (a hybrid run's hand-out rule needs them), or null.
Run run_collection(const char* what, const Cycle& cycle, const std::vector<client::TargetSpec>& targets,
                   const client::WorkerPlan& plan, const std::string& label, const fs::path& file, int passes,
                   const RunProgress& progress, const CostModel* expected = nullptr) {
  std::vector<client::ImageFile> jobs;
  for (int p = 0; p < passes; ++p) jobs.insert(jobs.end(), cycle.jobs.begin(), cycle.jobs.end());
  fs::remove(file);
  client::ResultsFile out(file);
  std::vector<client::WorkerSlot> workers = client::make_workers(targets, plan);
  if (expected != nullptr)
    for (client::WorkerSlot& w : workers) {
      if (w.target == "local") {
        w.expected_ms = expected->hybrid_local_ms();
      } else if (plan.http.resize_before_upload) {
        w.expected_ms = expected->hybrid_remote_ms();  // every request about the mean
      } else {
        // The file is the request: the expectation follows its bytes.
        w.expected_ms_per_byte = expected->hybrid_remote_ms_per_byte();
        w.expected_ms =
            expected->hybrid_remote_ms() - w.expected_ms_per_byte * expected->remote().mean_request_bytes;
      }
    }
  if (progress) progress(what, 0, jobs.size());
  Run run;
  const client::RunStats stats =
      client::process_images(jobs, workers, {cycle.collection, client::schedule_name(targets), label}, &out, {},
                             [&](const wire::Record& r) {
                               run.records.push_back(r);
                               if (progress) progress(what, run.records.size(), jobs.size());
                             });
  run.measured = measure_run(run.records, stats.wall_s / passes);
  return run;
}

}  // namespace

int validation_passes(const Cycle& cycle, double predicted_s) {
  constexpr int kMaxPasses = 50;
  if (!(predicted_s > 0)) return 1;
  return std::clamp(static_cast<int>(std::ceil(cycle.min_run_s / predicted_s)), 1, kMaxPasses);
}

HybridPrediction hybrid_prediction(const Cycle& cycle, const CostModel& model, int passes) {
  const std::vector<double> one = request_bytes(cycle, model);
  std::vector<double> bytes;
  for (int p = 0; p < passes; ++p) bytes.insert(bytes.end(), one.begin(), one.end());
  HybridPrediction h = model.hybrid(bytes);
  h.wall_s /= passes;
  return h;
}

Validation run_validation(const Cycle& cycle, const CostModel& model, const fs::path& out_dir,
                          const RunProgress& progress) {
  const client::TargetSpec local{"local", true};
  client::WorkerPlan one = cycle.plan;
  one.local_workers = 1;
  one.remote_concurrency = 1;
  Validation v;
  // The runs that cross the link carry it as their label, so a report over
  // several link settings keeps them apart.
  char link[64];
  std::snprintf(link, sizeof link, "%.3g Mbit/s, %.3g ms RTT", model.remote().bandwidth_mbps, model.remote().rtt_ms);
  v.link = link;
  const double images = static_cast<double>(cycle.jobs.size());
  const double remote_ms = model.remote_ms_at(model.remote().bandwidth_mbps, model.remote().rtt_ms);
  // In the order of the sample's end (local alone, then side by side), so
  // each run follows its own measurement closely; the local side once more
  // at the end, to show how far the machine's speed drifted meanwhile.
  const int local_passes = validation_passes(cycle, images * model.local().ms_per_image / 1000.0);
  const Run l = run_collection("local", cycle, {local}, one, "", out_dir / "local.jsonl", local_passes, progress);
  v.hybrid_passes = validation_passes(cycle, hybrid_prediction(cycle, model, 1).wall_s);
  v.hybrid_predicted = hybrid_prediction(cycle, model, v.hybrid_passes);
  const Run h = run_collection("hybrid", cycle, {local, cycle.remote}, cycle.plan, v.link, out_dir / "hybrid.jsonl",
                               v.hybrid_passes, progress, &model);
  const Run r = run_collection("remote", cycle, {cycle.remote}, one, v.link, out_dir / "remote.jsonl",
                               validation_passes(cycle, images * remote_ms / 1000.0), progress);
  const Run again =
      run_collection("local again", cycle, {local}, one, "again", out_dir / "local-again.jsonl", local_passes, progress);
  v.local = l.measured;
  v.remote = r.measured;
  v.hybrid = h.measured;
  v.local_again = again.measured;
  // The hybrid's split, per pass of the collection.
  for (const wire::Record& rec : h.records) (rec.target == "local" ? v.hybrid_local_images : v.hybrid_remote_images)++;
  v.hybrid_local_images /= static_cast<size_t>(v.hybrid_passes);
  v.hybrid_remote_images = cycle.jobs.size() - v.hybrid_local_images;
  for (const Run* run : {&l, &r, &h, &again})
    for (const wire::Record& rec : run->records) v.failures += rec.ok ? 0 : 1;
  return v;
}

wire::OffloadSummary cycle_summary(const Cycle& cycle, const CostModel& model, const HybridPrediction& hybrid,
                                   const Validation* validation) {
  wire::OffloadSummary s = model.summary(cycle.collection, cycle.jobs.size(), mean_file_bytes(cycle.jobs));
  s.hybrid.predicted_s = hybrid.wall_s;
  s.hybrid.predicted_local_share = hybrid.local_share;
  if (!validation) return s;
  const Validation& v = *validation;
  // As predicted for the run it is compared with (the tail spread over its passes).
  s.hybrid.predicted_s = v.hybrid_predicted.wall_s;
  s.hybrid.predicted_local_share = v.hybrid_predicted.local_share;
  s.hybrid.measured_s = v.hybrid.wall_s;
  s.hybrid.local_images = v.hybrid_local_images;
  s.hybrid.remote_images = v.hybrid_remote_images;
  const bool measured_remote_pays = v.remote.ms_per_image < v.local.ms_per_image;
  s.measured = wire::OffloadSummary::Measured{v.local.ms_per_image, v.remote.ms_per_image, v.local.wall_s,
                                              v.remote.wall_s,      v.hybrid.wall_s,
                                              measured_remote_pays == model.remote_pays(),
                                              v.local_again.ms_per_image};
  s.runs.push_back({"remote " + v.link, model.remote().bandwidth_mbps, model.remote().rtt_ms, v.remote.ms_per_image,
                    model.remote_ms_at(model.remote().bandwidth_mbps, model.remote().rtt_ms)});
  return s;
}

}  // namespace lookout::offload
