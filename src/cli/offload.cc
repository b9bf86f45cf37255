// lookout offload: measure local and remote on a sample of the collection,
// fit the cost model (src/offload/cost_model.h), say whether offloading
// pays and where it would start to, then check the prediction with real
// runs: local alone, remote alone, both together (hybrid).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include "cli/commands.h"
#include "cli/progress.h"
#include "client/run.h"
#include "detect/parallel.h"
#include "offload/cycle.h"
#include "offload/measure.h"
#include "wire/offload.h"

namespace lookout::cli {

namespace {

namespace fs = std::filesystem;

const char* kFooter = R"(
What it does:
  1. measures, on --sample images spread over the collection's file sizes:
     real detection requests, one at a time (at least --rounds passes and
     1.5 s, each image's median kept), then both sides at once for 3 s
     (the hybrid run's speeds: on one machine each side slows the other),
     then the local time per image (one detector; at least --rounds passes
     and 3 s, the mean kept), and the remote's RTT (GET /healthz); fits
       round trip - server time = overhead + bytes / bandwidth
     over them (bytes = request + response).
  2. the cost model, for this collection's mean image:
       T_local  = decode + preprocess + inference + postprocess
       T_remote = RTT + overhead + bytes / bandwidth + server time
                  (server time = queue + decode + ... + postprocess, as reported)
     prints both, the verdict, the break-even bandwidth (at the measured RTT)
     and RTT (at the measured bandwidth), and the predicted wall time of the
     hybrid schedule (--local-workers detectors and --concurrency requests
     pulling from one queue).
  3. unless --no-validate: runs the whole collection locally (one detector),
     hybrid, and remotely (one request at a time), each soon after its own
     measurement (this machine's speed drifts), and prints predicted vs
     measured for each; then locally once more, to show that drift.

Output directory (--out): local.jsonl, hybrid.jsonl, remote.jsonl,
local-again.jsonl (results files as written by `lookout run`; the last
labelled "again"), sample/ (the sample's records the model was fitted on)
and offload.json (the model, break-even,
verdict, hybrid predicted vs measured). Draw them with
  lookout report OUT/*.jsonl OUT/offload.json -o report.html

Exit status: 0 done; 1 a validation run had failures; 2 usage error, or the
remote or the model cannot be measured (the reason is printed).

Examples (a shaped "remote" on this machine: scripts/remote-lab.sh up):
  lookout offload data/small --remote http://10.77.0.2:5029
  # the local side as a small board with a camera, a quarter of one core:
  taskset -c 0 lookout offload data/small --remote http://10.77.0.2:5029 --local-cpu 0.25)";

double pct_error(double predicted, double measured) {
  return measured > 0 ? 100.0 * (predicted - measured) / measured : 0.0;
}

}  // namespace

int offload_main(int argc, char** argv) {
  const int cores = detect::available_cores();
  CLI::App app{"Is it worth sending these photos to a remote machine? Measure, model, verdict, check.",
               "lookout offload"};
  app.footer(kFooter);
  std::string dir, remote_url, out_dir, json_path;
  client::WorkerPlan plan;
  plan.local_workers = cores;
  size_t sample_size = 16;
  int rounds = 3;
  bool no_validate = false, insecure = false, quiet = false;
  double local_cpu = 0;
  std::string model_path = detect::kDefaultModel, labels_path = detect::kDefaultLabels;
  app.add_option("DIR", dir, "the collection: a directory walked for .jpg/.jpeg/.png")->required()->check(CLI::ExistingDirectory);
  app.add_option("--remote,-r", remote_url, "the remote `lookout serve`: http://HOST:PORT or https://HOST:PORT")->required();
  app.add_option("--out,-o", out_dir, "directory for the results files and offload.json [default: offload-<collection>]");
  app.add_option("--json", json_path, "write offload.json here instead of OUT/offload.json");
  app.add_option("--sample", sample_size, "images measured for the model, spread over file sizes")
      ->capture_default_str()->check(CLI::Range(3, 100000));
  app.add_option("--rounds", rounds, "passes of the sample on each side at least (each side also runs for a few seconds)")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--local-workers", plan.local_workers, "detectors on the local side of the hybrid run [default: one per core, " +
                                                            std::to_string(cores) + " here]")
      ->check(CLI::Range(1, 1024));
  add_local_cpu_option(app, local_cpu);
  app.add_option("--concurrency,-c", plan.remote_concurrency, "requests in flight to the remote in the hybrid run")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_flag("--resize-before-upload", plan.http.resize_before_upload,
               "the remote side downscales each image to the model input and re-encodes it (JPEG) before sending");
  app.add_flag("--no-validate", no_validate, "model and verdict only: skip the local, remote and hybrid runs");
  app.add_option("--api-key", plan.http.api_key, "API key for the remote (sent as X-API-Key)")->envname("LOOKOUT_API_KEY");
  app.add_flag("--insecure", insecure, "https: do not verify the server certificate");
  add_model_options(app, model_path, labels_path, "local side");
  app.add_flag("--quiet,-q", quiet, "no progress bars");
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;
  plan.http.verify_tls = !insecure;
  const bool show_progress = !quiet && isatty(STDERR_FILENO) != 0;
  const std::string collection = client::collection_name(dir);
  if (out_dir.empty()) out_dir = "offload-" + collection;
  if (json_path.empty()) json_path = (fs::path(out_dir) / "offload.json").string();

  offload::Cycle cycle;
  cycle.collection = collection;
  cycle.sample_size = sample_size;
  cycle.rounds = rounds;
  std::optional<offload::CostModel> model;
  double mean_bytes = 0;
  std::unique_ptr<client::CpuQuota> cap;
  try {
    cap = local_cpu_quota(local_cpu);
    if (cap)
      std::fprintf(stderr, "lookout offload: the local side (this process) capped at %g CPU in %s\n", cap->cores(),
                   cap->group().c_str());
    cycle.remote = client::parse_target(remote_url);
    cycle.jobs = client::collection_jobs(dir);
    if (cycle.jobs.size() < 3) throw std::runtime_error("need at least 3 images in " + dir + " to model the link");
    ModelFiles files = load_model_files(model_path, labels_path);
    plan.model = std::move(files.model);
    plan.labels = std::move(files.labels);
    plan.detector.filter.threshold = static_cast<float>(plan.http.threshold);
    cycle.plan = plan;
    fs::create_directories(out_dir);
    mean_bytes = offload::mean_file_bytes(cycle.jobs);

    // 1. Measurements, one image at a time on each side.
    std::fprintf(stderr, "lookout offload: %zu images in %s (mean %.0f KB); measuring on %zu of them\n",
                 cycle.jobs.size(), cycle.collection.c_str(), mean_bytes / 1024.0,
                 std::min(sample_size, cycle.jobs.size()));
    model.emplace(offload::measure_and_fit(cycle, fs::path(out_dir) / "sample"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout offload: %s\n", e.what());
    return 2;
  }

  // 2. The model and the verdict.
  const offload::LocalProfile& lp = model->local();
  const offload::RemoteProfile& rp = model->remote();
  const double t_remote = model->remote_ms_at(rp.bandwidth_mbps, rp.rtt_ms);
  // Padded to the other rows' 14 columns; a capped side's longer name pushes its row out.
  char local_row[40];
  std::snprintf(local_row, sizeof local_row, "%-14s", local_side_name(local_cpu).c_str());
  std::printf("measured\n");
  std::printf("  %s%8.1f ms per image (one detector)\n", local_row, lp.ms_per_image);
  std::printf("  remote RTT    %8.1f ms   (GET /healthz, median of 10)\n", rp.rtt_ms);
  std::printf("  bandwidth     %8.2f Mbit/s (fit over %zu requests, medians of %d, r2 %.3f; overhead %.1f ms per request)\n",
              rp.bandwidth_mbps, std::min(sample_size, cycle.jobs.size()), rounds, rp.fit_r2, rp.overhead_ms);
  std::printf("  server        %8.1f ms per image (queue + decode + inference + post, %d detector%s)\n", rp.server_ms,
              rp.server_workers, rp.server_workers == 1 ? "" : "s");
  std::printf("  request       %8.0f bytes mean, response %.0f bytes mean\n", rp.mean_request_bytes,
              rp.mean_response_bytes);
  std::printf("model (this collection's mean image)\n");
  std::printf("  T_local       %8.1f ms\n", lp.ms_per_image);
  std::printf("  T_remote      %8.1f ms = RTT %.1f + overhead %.1f + transfer %.1f + server %.1f\n", t_remote, rp.rtt_ms,
              rp.overhead_ms, t_remote - model->fixed_ms(), rp.server_ms);
  const std::optional<double> be_bw = model->break_even_bandwidth_mbps();
  const std::optional<double> be_rtt = model->break_even_rtt_ms();
  if (be_bw)
    std::printf("  break-even    %8.2f Mbit/s (at %.1f ms RTT)\n", *be_bw, rp.rtt_ms);
  else
    std::printf("  break-even    none: RTT + overhead + server alone (%.1f ms) exceed T_local\n", model->fixed_ms());
  if (be_rtt)
    std::printf("  break-even    %8.1f ms RTT (at %.2f Mbit/s)\n", *be_rtt, rp.bandwidth_mbps);
  else
    std::printf("  break-even    no RTT: transfer + server alone exceed T_local at %.2f Mbit/s\n", rp.bandwidth_mbps);
  const offload::HybridPrediction hybrid = model->hybrid(offload::request_bytes(cycle, *model));
  const double local_alone_s = static_cast<double>(cycle.jobs.size()) * lp.ms_per_image / 1000.0 / lp.workers;
  std::printf("  hybrid        %8.2f s for %zu images (%d local detector%s + %d request%s in flight; local takes %.0f%%)"
              "; local alone %.2f s\n",
              hybrid.wall_s, cycle.jobs.size(), lp.workers, lp.workers == 1 ? "" : "s", rp.concurrency,
              rp.concurrency == 1 ? "" : "s", 100.0 * hybrid.local_share, local_alone_s);
  std::printf("verdict: %s\n", model->verdict().c_str());
  std::fflush(stdout);

  // 3. Predicted vs measured on the whole collection.
  int status = 0;
  std::optional<offload::Validation> validation;
  if (!no_validate) {
    std::printf("predicted vs measured (whole collection)\n");
    std::fflush(stdout);
    try {
      std::unique_ptr<Progress> bar;
      validation = offload::run_validation(cycle, *model, out_dir, [&](const char* run, size_t done, size_t total) {
        if (done == 0) {
          bar.reset();
          std::fprintf(stderr, "  %s run: %zu images ...\n", run, total);
          bar = std::make_unique<Progress>(total, show_progress);
        }
        bar->update(done);
      });
      bar.reset();
      const offload::Validation& v = *validation;
      const size_t split = v.hybrid_local_images + v.hybrid_remote_images;
      const double share = split ? static_cast<double>(v.hybrid_local_images) / static_cast<double>(split) : 0.0;
      std::printf("  %s%8.1f ms per image predicted, %8.1f measured (%+.1f%%)\n", local_row, lp.ms_per_image,
                  v.local.ms_per_image, pct_error(lp.ms_per_image, v.local.ms_per_image));
      std::printf("  %s%8.1f ms per image measured again after the other runs (%+.1f%%: this machine's own drift)\n",
                  local_row, v.local_again.ms_per_image, pct_error(v.local_again.ms_per_image, v.local.ms_per_image));
      std::printf("  remote        %8.1f ms per image predicted, %8.1f measured (%+.1f%%)\n", t_remote,
                  v.remote.ms_per_image, pct_error(t_remote, v.remote.ms_per_image));
      std::printf("  hybrid        %8.2f s predicted, %8.2f s measured (%+.1f%%); local took %.0f%% (predicted %.0f%%)\n",
                  hybrid.wall_s, v.hybrid.wall_s, pct_error(hybrid.wall_s, v.hybrid.wall_s), 100.0 * share,
                  100.0 * hybrid.local_share);
      const bool measured_remote_pays = v.remote.ms_per_image < v.local.ms_per_image;
      std::printf("  the measured runs %s the verdict (remote %.1f vs local %.1f ms per image)\n",
                  measured_remote_pays == model->remote_pays() ? "agree with" : "DISAGREE with", v.remote.ms_per_image,
                  v.local.ms_per_image);
      if (v.failures > 0) {
        std::printf("  %zu images failed in the runs (see the results files)\n", v.failures);
        status = 1;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lookout offload: validation run failed: %s\n", e.what());
      validation.reset();
      status = 2;
    }
  }
  const wire::OffloadSummary summary =
      offload::cycle_summary(cycle, *model, hybrid, validation ? &*validation : nullptr);
  std::ofstream f(json_path, std::ios::trunc);
  f << wire::offload_text(summary);
  f.close();
  if (!f) {
    std::fprintf(stderr, "lookout offload: cannot write %s\n", json_path.c_str());
    return 2;
  }
  std::printf("wrote %s%s\n", json_path.c_str(),
              no_validate ? "" : (" and the results files in " + out_dir + "/").c_str());
  std::printf("report: lookout report %s/*.jsonl %s -o report.html\n", out_dir.c_str(), json_path.c_str());
  return status;
}

}  // namespace lookout::cli
