// lookout run: a collection sent to local and/or remote targets, one JSON
// line per image in the results file, a rerun resumes. The work itself is
// src/client (targets, the shared queue, records).
#include <CLI/CLI.hpp>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "client/run.h"
#include "detect/parallel.h"

namespace lookout::cli {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};

// First Ctrl-C: finish the images in flight, write them, stop. Second: die.
void on_sigint(int) {
  g_stop.store(true);
  signal(SIGINT, SIG_DFL);
}

const char* kFooter = R"(
Targets (--target, repeatable):
  local               detectors in this process (--local-workers of them)
  http://HOST:PORT    a `lookout serve` (--concurrency connections to it);
  https://HOST:PORT   several servers = scale-out over replicas
  local and servers together = hybrid: every worker pulls the next image
  from one shared queue, so the faster side takes more; near the end a
  worker leaves the rest to the others when they would finish it all before
  it finishes one image (paces learned as the run goes).

Results file (--out, JSON lines, one per image): image, collection, target,
schedule, label, ok, status, error, file_bytes, bytes_sent, response_bytes, width,
height, timing_ms {upload, queue, decode, preprocess, inference,
postprocess, round_trip, total}, detections [{class_id, label, score,
box {xmin, ymin, xmax, ymax} normalized}], attempts, finished_at.
upload = request start until the server's kernel acknowledged the last byte;
round_trip = request start until the answer is read; total = what a user
waits (remote: round_trip; local: the detector's stages).

Resuming: a rerun with the same --out skips images already done there
(succeeded, or failed for good such as a corrupt image); failures a retry
could fix are dropped from the file and sent again. Ctrl-C (once) finishes
the images in flight and stops; kill -9 or a server restart loses nothing
either: rerun the same command.

Retries: connection errors, 503 (honouring Retry-After), 500, 502 and 504
are retried with exponential backoff (--retries attempts in all); other
4xx answers are recorded and not retried.

Exit status: 0 every image done; 1 some images failed (listed); 2 usage
error, no images, or the model/labels cannot be loaded.

Examples:
  lookout run data/small --target local --out local.jsonl
  lookout run data/small --target http://10.77.0.2:5029 --out remote.jsonl
  lookout run data/small --target local --target http://10.77.0.2:5029 --out hybrid.jsonl
  lookout run data/MEDIUM --target http://a:5029 --target http://b:5029 --concurrency 4 --out out.jsonl)";

void print_failures(const std::vector<wire::Record>& records) {
  size_t shown = 0, failed = 0;
  for (const wire::Record& r : records) {
    if (r.ok) continue;
    ++failed;
    if (shown++ < 10) std::fprintf(stderr, "  failed: %s (%s): %s\n", r.image.c_str(), r.target.c_str(), r.error.c_str());
  }
  if (failed > shown) std::fprintf(stderr, "  ... and %zu more failures (see the results file)\n", failed - shown);
}

}  // namespace

int run_main(int argc, char** argv) {
  const int cores = detect::available_cores();
  CLI::App app{"Send a collection of photos to local and/or remote detectors and record the timings.", "lookout run"};
  app.footer(kFooter);
  std::string dir, out = "results.jsonl", label;
  std::vector<std::string> target_args;
  client::WorkerPlan plan;
  plan.local_workers = cores;
  int retries = plan.http.max_attempts;
  std::string model_path = detect::kDefaultModel, labels_path = detect::kDefaultLabels;
  bool insecure = false, quiet = false;
  double local_cpu = 0;
  app.add_option("DIR", dir, "the collection: a directory walked for .jpg/.jpeg/.png")->required()->check(CLI::ExistingDirectory);
  app.add_option("--target,-t", target_args, "local, http://HOST:PORT or https://HOST:PORT (repeatable)")->required();
  app.add_option("--out,-o", out, "results file (JSON lines; resumed when it exists)")->capture_default_str();
  app.add_option("--label,-l", label,
                 "a name for this run, kept in every record, e.g. the link setting; `lookout report` shows runs with "
                 "different labels apart");
  app.add_option("--concurrency,-c", plan.remote_concurrency, "requests in flight per server")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--local-workers", plan.local_workers, "detectors for the local target [default: one per core, " +
                                                            std::to_string(cores) + " here]")
      ->check(CLI::Range(1, 1024));
  add_local_cpu_option(app, local_cpu);
  app.add_option("--api-key", plan.http.api_key, "API key for the servers (sent as X-API-Key)")->envname("LOOKOUT_API_KEY");
  app.add_option("--threshold", plan.http.threshold, "keep detections scoring at least this")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--retries", retries, "attempts per image for transient failures")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_flag("--resize-before-upload", plan.http.resize_before_upload,
               "downscale each image to the model input and re-encode it (JPEG) before sending");
  app.add_option("--resize-quality", plan.http.resize_quality, "JPEG quality of --resize-before-upload")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--timeout", plan.http.timeout_s, "seconds per request before it counts as failed")
      ->capture_default_str()->check(CLI::Range(1, 86400));
  app.add_flag("--insecure", insecure, "https: do not verify the server certificate");
  app.add_option("--ca-cert", plan.http.ca_cert, "https: trust the CA certificates in FILE")->check(CLI::ExistingFile);
  add_model_options(app, model_path, labels_path, "local target");
  app.add_flag("--quiet,-q", quiet, "no progress bar and no table");
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;
  plan.http.max_attempts = retries;
  plan.http.verify_tls = !insecure;

  std::vector<client::TargetSpec> targets;
  std::vector<client::ImageFile> jobs;
  std::vector<client::WorkerSlot> workers;
  std::unique_ptr<client::ResultsFile> results;
  std::unique_ptr<client::CpuQuota> cap;
  const std::string collection = client::collection_name(dir);
  try {
    cap = local_cpu_quota(local_cpu);
    for (const std::string& t : target_args) targets.push_back(client::parse_target(t));
    jobs = client::collection_jobs(dir);
    if (jobs.empty()) throw std::runtime_error("no images in " + dir + " (looked for .jpg, .jpeg and .png files)");
    bool any_local = false;
    for (const client::TargetSpec& t : targets) any_local |= t.local;
    if (any_local) {
      ModelFiles files = load_model_files(model_path, labels_path);
      plan.model = std::move(files.model);
      plan.labels = std::move(files.labels);
      plan.detector.filter.threshold = static_cast<float>(plan.http.threshold);
    }
    results = std::make_unique<client::ResultsFile>(out);
    workers = client::make_workers(targets, plan);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout run: %s\n", e.what());
    return 2;
  }

  const std::string schedule = client::schedule_name(targets);
  size_t already = 0;
  for (const client::ImageFile& j : jobs) already += results->is_done(collection, j.image) ? 1 : 0;
  if (!quiet)
    std::fprintf(stderr, "lookout run: %zu images in %s, %zu already done in %s; %s over %zu worker%s\n", jobs.size(),
                 collection.c_str(), already, out.c_str(), schedule.c_str(), workers.size(), workers.size() == 1 ? "" : "s");

  signal(SIGINT, on_sigint);
  Progress progress(jobs.size() - already, !quiet && isatty(STDERR_FILENO) != 0);
  std::vector<wire::Record> fresh;
  client::RunStats stats;
  try {
    stats = client::process_images(
        jobs, workers, {collection, schedule, label}, results.get(),
        [&](const std::string& c, const std::string& image) { return results->is_done(c, image); },
        [&](const wire::Record& r) {
          fresh.push_back(r);
          progress.update(fresh.size());
        },
        &g_stop);
  } catch (const std::exception& e) {
    progress.clear();
    std::fprintf(stderr, "lookout run: %s\n", e.what());
    return 2;
  }
  progress.clear();
  signal(SIGINT, SIG_DFL);

  std::vector<wire::Record> all = results->previous();
  all.insert(all.end(), fresh.begin(), fresh.end());
  size_t failed = 0;
  uint64_t file_bytes = 0, sent_bytes = 0;
  for (const wire::Record& r : fresh) {
    failed += r.ok ? 0 : 1;
    file_bytes += r.file_bytes;
    sent_bytes += r.bytes_sent;
  }
  if (!quiet) {
    std::fprintf(stderr, "\n%s", client::summary_table(client::summarize(all)).c_str());
    if (cap)
      std::fprintf(stderr, "%s: this process capped at %g CPU (%s)\n", local_side_name(local_cpu).c_str(),
                   cap->cores(), cap->group().c_str());
    std::fprintf(stderr, "\nthis run: %zu images in %.1f s (%.1f images/s), %zu failed, %zu skipped (done before)\n",
                 stats.sent, stats.wall_s, stats.wall_s > 0 ? static_cast<double>(stats.sent) / stats.wall_s : 0.0,
                 failed, stats.skipped);
    if (plan.http.resize_before_upload && file_bytes > 0)
      std::fprintf(stderr, "resize before upload: sent %.1f MB instead of %.1f MB (%.0f%% saved)\n", sent_bytes / 1e6,
                   file_bytes / 1e6, 100.0 * (1.0 - static_cast<double>(sent_bytes) / static_cast<double>(file_bytes)));
    print_failures(fresh);
    std::fprintf(stderr, "results: %s\n", out.c_str());
  }
  if (g_stop.load()) {
    std::fprintf(stderr, "lookout run: interrupted; rerun the same command to finish the remaining images\n");
    return 1;
  }
  size_t failed_all = 0;
  for (const wire::Record& r : all) failed_all += r.ok ? 0 : 1;
  return failed_all > 0 ? 1 : 0;
}

}  // namespace lookout::cli
