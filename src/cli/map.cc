// lookout map: where does offloading pay? `lookout offload`'s cycle
// (offload/cycle.h) once per cell of a grid of links (bandwidth x RTT, set
// on the remote lab with scripts/remote-lab.sh) and machine pairs (CPU
// quotas for this process and the lab's server), each with and without
// downscaling before upload. Every cell lands in one map.json
// (wire/map.h) as soon as it is done, so a rerun resumes.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "client/cpu_quota.h"
#include "client/record.h"
#include "detect/parallel.h"
#include "engine/isa.h"
#include "offload/cycle.h"
#include "wire/map.h"

namespace lookout::cli {

namespace {

namespace fs = std::filesystem;
using wire::MapFile;

const char* kFooter = R"(
Each cell:
  1. sets the lab: scripts/remote-lab.sh set --name LAB --rate BWmbit
     --rtt RTTms --cpu-quota REMOTE_CPU (the link and the remote machine);
  2. caps this process (the local device: its detector and its uploads) at
     LOCAL_CPU cores' worth of CPU time (a cgroup quota);
  3. runs `lookout offload`'s cycle with one detector and one request in
     flight: the sample timed on both sides, the model fitted, then the
     collection local alone, hybrid and remote alone, and local alone once
     more (how far this machine's speed drifted within the cell);
  4. appends the cell (settings, predicted and measured) to the map file.
A rerun with the same --out skips the cells the file already has (keyed by
their settings); --restart starts the file over.

The lab must be up first, with one CPU for the server, e.g.
  scripts/remote-lab.sh up --name map --cpus 1
  taskset -c 0 lookout map data/small --remote http://10.77.0.2:5029 --lab map
(taskset: this side on one CPU, the server on the other.)

Time: on data/small, a cell takes 28-40 s, and at 1 Mbit/s 100-110 s
without downscaling (the remote run sends every photo at 1.3 s each) and
55-60 s with it; the default grid (48 cells) took 36 minutes on a 2-core
machine (BENCHMARKS.md).

Draw the map: lookout report MAP.json -o map.html

Exit status: 0 every cell done; 1 some cells failed (the message says
why; rerun to retry them); 2 usage error or the lab cannot be driven.)";

std::string format_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; "" when it exits 0, else its output.
std::string run_quietly(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return "cannot run " + command;
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  if (status == 0) return "";
  return out.empty() ? "exit status " + std::to_string(status) : out;
}

// "0.25:1" -> {0.25, 1}.
MapFile::Pair parse_pair(const std::string& text) {
  const size_t colon = text.find(':');
  MapFile::Pair p;
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no colon");
    size_t used = 0;
    p.local_cpu = std::stod(text.substr(0, colon), &used);
    if (used != colon) throw std::invalid_argument("trailing text");
    const std::string remote = text.substr(colon + 1);
    p.remote_cpu = std::stod(remote, &used);
    if (used != remote.size()) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw CLI::ValidationError("--pairs", "'" + text + "' is not LOCAL_CPU:REMOTE_CPU (e.g. 0.25:1)");
  }
  if (!(p.local_cpu > 0) || !(p.remote_cpu > 0))
    throw CLI::ValidationError("--pairs", "'" + text + "': CPU quotas must be positive");
  return p;
}

// The map so far, or a new one. Throws std::runtime_error when the file is
// there but unreadable or of another collection.
MapFile load_or_start(const fs::path& file, const std::string& collection, size_t images, bool restart) {
  std::error_code ec;
  if (!restart && fs::exists(file, ec)) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    MapFile m;
    try {
      m = wire::Json::parse(text.str()).get<MapFile>();
    } catch (const std::exception& e) {
      throw std::runtime_error(file.string() + " is not a map this lookout can resume (" + e.what() +
                               "): pass --restart to start it over, or another --out");
    }
    if (m.collection != collection || m.images != images)
      throw std::runtime_error(file.string() + " maps collection '" + m.collection + "' (" +
                               std::to_string(m.images) + " images), not '" + collection + "' (" +
                               std::to_string(images) + "): pass --restart or another --out");
    return m;
  }
  MapFile m;
  m.collection = collection;
  m.images = images;
  m.cpu = engine::cpu_name();
  m.created = client::utc_now();
  return m;
}

// Written whole to a temporary file, then renamed over: a sweep killed at
// any moment leaves the last complete map.
void save(const MapFile& m, const fs::path& file) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << wire::map_text(m);
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, file);
}

// A cell's directory name: "l0.25-r1-10mbit-20ms" (+ "-resized").
std::string slug(const MapFile::Cell& c) {
  return "l" + format_number(c.pair.local_cpu) + "-r" + format_number(c.pair.remote_cpu) + "-" +
         format_number(c.bandwidth_mbps) + "mbit-" + format_number(c.rtt_ms) + "ms" +
         (c.resize_before_upload ? "-resized" : "");
}

const char* winner(double local_s, double remote_s, double hybrid_s) {
  if (local_s <= remote_s && local_s <= hybrid_s) return "local";
  return remote_s <= hybrid_s ? "remote" : "hybrid";
}

}  // namespace

int map_main(int argc, char** argv) {
  CLI::App app{"Where does offloading pay? `lookout offload` over a grid of links and machine pairs, into one map.",
               "lookout map"};
  app.footer(kFooter);
  std::string dir, remote_url, out, lab = "default", resize = "both";
  std::string lab_script = "scripts/remote-lab.sh";
  std::vector<double> bandwidths{1, 10, 100, 1000}, rtts{2, 20, 100};
  std::vector<std::string> pair_texts{"0.25:1", "1:1"};
  size_t sample_size = 8;
  int rounds = 2;
  double min_run_s = 5;
  bool quiet = false, restart = false;
  std::string model_path = detect::kDefaultModel, labels_path = detect::kDefaultLabels;
  app.add_option("DIR", dir, "the collection: a directory walked for .jpg/.jpeg/.png")->required()->check(CLI::ExistingDirectory);
  app.add_option("--remote,-r", remote_url, "the lab's `lookout serve`: http://HOST:PORT (remote-lab.sh up prints it)")
      ->required();
  app.add_option("--lab", lab, "the lab's --name in scripts/remote-lab.sh")->capture_default_str();
  app.add_option("--lab-script", lab_script, "the lab script that sets each cell's link and remote CPU")
      ->capture_default_str();
  app.add_option("--out,-o", out, "the map file [default: map-<collection>.json]; its cells' results files go to "
                                  "<out without .json>-cells/");
  app.add_option("--bandwidths", bandwidths, "link bandwidths in Mbit/s (each way)")->delimiter(',')->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--rtts", rtts, "round-trip times in ms")->delimiter(',')->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--pairs", pair_texts, "machine pairs LOCAL_CPU:REMOTE_CPU in cores' worth of CPU time (0.25:1 = a "
                                        "quarter-core camera board against a one-core server)")
      ->delimiter(',')->capture_default_str();
  app.add_option("--resize", resize, "cells with downscaling before upload: both, off or on")
      ->capture_default_str()->check(CLI::IsMember({"both", "off", "on"}));
  app.add_option("--sample", sample_size, "images measured for each cell's model, spread over file sizes")
      ->capture_default_str()->check(CLI::Range(3, 100000));
  app.add_option("--rounds", rounds, "passes of the sample over the link per cell; each image's median is kept")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--min-run-seconds", min_run_s,
                 "each validation run repeats the collection until it lasts this long (by the prediction) and "
                 "reports one pass: a short run measures a swing of the machine's speed, not its mean")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  app.add_flag("--restart", restart, "start the map file over instead of resuming it");
  add_model_options(app, model_path, labels_path, "local side");
  app.add_flag("--quiet,-q", quiet, "no progress bar");
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;

  std::vector<MapFile::Pair> pairs;
  try {
    for (const std::string& p : pair_texts) pairs.push_back(parse_pair(p));
  } catch (const CLI::ValidationError& e) {
    std::fprintf(stderr, "lookout map: %s\n", e.what());
    return 2;
  }
  std::vector<bool> resizes;
  if (resize != "on") resizes.push_back(false);
  if (resize != "off") resizes.push_back(true);

  offload::Cycle cycle;
  cycle.collection = client::collection_name(dir);
  cycle.sample_size = sample_size;
  cycle.rounds = rounds;
  cycle.min_run_s = min_run_s;
  if (out.empty()) out = "map-" + cycle.collection + ".json";
  const fs::path map_file(out);
  const fs::path cells_dir = map_file.parent_path() / (map_file.stem().string() + "-cells");
  const fs::path script = resolve_default(lab_script, "scripts/remote-lab.sh");
  MapFile map;
  std::unique_ptr<client::CpuQuota> quota;
  try {
    if (!fs::exists(script)) throw std::runtime_error("lab script " + script.string() + " not found: pass --lab-script");
    cycle.remote = client::parse_target(remote_url);
    cycle.jobs = client::collection_jobs(dir);
    if (cycle.jobs.size() < 3) throw std::runtime_error("need at least 3 images in " + dir + " to model the link");
    ModelFiles files = load_model_files(model_path, labels_path);
    cycle.plan.model = std::move(files.model);
    cycle.plan.labels = std::move(files.labels);
    cycle.plan.detector.filter.threshold = static_cast<float>(cycle.plan.http.threshold);
    cycle.plan.local_workers = 1;
    cycle.plan.remote_concurrency = 1;
    map = load_or_start(map_file, cycle.collection, cycle.jobs.size(), restart);
    if (!map_file.parent_path().empty()) fs::create_directories(map_file.parent_path());
    // Refused now rather than at the first capped cell.
    for (const MapFile::Pair& p : pairs)
      if (p.local_cpu < detect::available_cores())
        if (const std::string why = client::CpuQuota::unavailable_reason(); !why.empty())
          throw std::runtime_error("local CPU " + format_number(p.local_cpu) + ": " + why);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout map: %s\n", e.what());
    return 2;
  }

  std::vector<MapFile::Cell> todo;
  std::set<std::string> done;
  for (const MapFile::Cell& c : map.cells) done.insert(c.key());
  for (const MapFile::Pair& p : pairs)
    for (const bool r : resizes)
      for (const double rtt : rtts)
        for (const double bw : bandwidths) {
          MapFile::Cell c;
          c.pair = p;
          c.bandwidth_mbps = bw;
          c.rtt_ms = rtt;
          c.resize_before_upload = r;
          if (!done.count(c.key())) todo.push_back(c);
        }
  const size_t total = todo.size() + map.cells.size();
  std::fprintf(stderr, "lookout map: %zu images in %s; %zu cells, %zu done already, into %s\n", cycle.jobs.size(),
               cycle.collection.c_str(), total, map.cells.size(), map_file.c_str());

  if (!todo.empty())
    std::printf("%-50s %-17s  %-17s  %-17s  %s\n", "cell (s per pass: predicted / measured)", "local", "remote",
                "hybrid", "winner");
  const bool show_progress = !quiet && isatty(STDERR_FILENO) != 0;
  Progress progress(total, show_progress);
  progress.update(map.cells.size(), true);
  size_t failed = 0;
  for (MapFile::Cell& cell : todo) {
    const auto start = std::chrono::steady_clock::now();
    try {
      const std::string set = "bash " + shell_quote(script.string()) + " set --name " + shell_quote(lab) +
                              " --rate " + format_number(cell.bandwidth_mbps) + "mbit --rtt " +
                              format_number(cell.rtt_ms) + "ms --cpu-quota " + format_number(cell.pair.remote_cpu) +
                              " 2>&1";
      if (const std::string why = run_quietly(set); !why.empty())
        throw std::runtime_error("the lab did not take the setting (is it up? " + script.string() +
                                 " status --name " + lab + "): " + why);
      // A quota only where the pair asks for less than this process has
      // (a quota of all of it still throttles in bursts).
      if (cell.pair.local_cpu >= detect::available_cores())
        quota.reset();
      else if (quota)
        quota->set(cell.pair.local_cpu);
      else
        quota = std::make_unique<client::CpuQuota>(cell.pair.local_cpu);
      cycle.plan.http.resize_before_upload = cell.resize_before_upload;
      const fs::path cell_dir = cells_dir / slug(cell);
      fs::create_directories(cell_dir);
      const offload::CostModel model = offload::measure_and_fit(cycle, cell_dir / "sample");
      const offload::HybridPrediction hybrid = model.hybrid(offload::request_bytes(cycle, model));
      const offload::Validation v = offload::run_validation(cycle, model, cell_dir, {});
      cell.offload = offload::cycle_summary(cycle, model, hybrid, &v);
      cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      map.cells.push_back(cell);
      save(map, map_file);
      const double n = static_cast<double>(cycle.jobs.size());
      const double local_s = n * cell.offload.local.ms_per_image / 1000.0;
      const double remote_s = n * cell.offload.remote.ms_per_image / 1000.0;
      const double hybrid_s = cell.offload.hybrid.predicted_s;
      progress.clear();
      std::printf("%-50s %7.2f / %-7.2f  %7.2f / %-7.2f  %7.2f / %-7.2f  %s / %s%s  (%.0f s)\n", cell.key().c_str(),
                  local_s, v.local.wall_s, remote_s, v.remote.wall_s, hybrid_s, v.hybrid.wall_s,
                  winner(local_s, remote_s, hybrid_s),
                  winner(v.local.wall_s, v.remote.wall_s, v.hybrid.wall_s),
                  v.failures ? (", " + std::to_string(v.failures) + " images failed").c_str() : "", cell.seconds);
      std::fflush(stdout);
    } catch (const std::exception& e) {
      progress.clear();
      std::fprintf(stderr, "lookout map: %s: %s\n", cell.key().c_str(), e.what());
      ++failed;
    }
    progress.update(map.cells.size() + failed, true);
  }
  progress.clear();
  std::printf("wrote %s (%zu of %zu cells)%s\n", map_file.c_str(), map.cells.size(), total,
              failed ? "; rerun to retry the failed cells" : "");
  std::printf("report: lookout report %s -o map.html\n", map_file.c_str());
  return failed ? 1 : 0;
}

}  // namespace lookout::cli
