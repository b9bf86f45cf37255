// The verbs. Each takes argv starting at the verb's name and returns the
// process exit code: 0 success, 1 some work failed, 2 usage or model error.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "client/cpu_quota.h"
#include "detect/detector.h"

namespace CLI {
class App;
}

namespace lookout::cli {

// `path` as given, unless it is the default (relative to the repository) and
// not found from here: then the default next to the binary's directory or its
// parent (build/lookout run from elsewhere).
std::filesystem::path resolve_default(const std::string& path, const char* default_path);

// The detector's model and labels (defaults resolved as above). Throws
// std::runtime_error saying how to get them when they are missing or bad.
struct ModelFiles {
  std::shared_ptr<const engine::Model> model;
  std::shared_ptr<const detect::Labels> labels;
};
ModelFiles load_model_files(const std::string& model_path, const std::string& labels_path);
// Parses the verb's arguments. Returns the exit code when that is all there
// is to do (--help: 0; a bad argument: 2, after CLI11 printed why and the
// usage), else nullopt.
std::optional<int> parse_args(CLI::App& app, int argc, char** argv);
// --model FILE and --labels FILE of a verb that runs a detector here; `role`
// says which one ("local side") in their help, or is empty.
void add_model_options(CLI::App& app, std::string& model_path, std::string& labels_path, const std::string& role);
// --local-cpu CORES of a verb with a local side (0 = no cap).
void add_local_cpu_option(CLI::App& app, double& cores);
// The cap --local-cpu asked for, on this whole process until it is
// destroyed; null when `cores` is 0. Throws std::runtime_error saying what to do.
std::unique_ptr<client::CpuQuota> local_cpu_quota(double cores);
// How the local side is named in summaries: "local", or "local (0.25 CPU)" when capped.
std::string local_side_name(double cores);

int bench_main(int argc, char** argv);
int collections_main(int argc, char** argv);
int detect_main(int argc, char** argv);
int report_main(int argc, char** argv);
int serve_main(int argc, char** argv);
int run_main(int argc, char** argv);
int offload_main(int argc, char** argv);
int map_main(int argc, char** argv);

}  // namespace lookout::cli
