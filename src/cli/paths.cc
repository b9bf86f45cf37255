#include <cstdio>
#include <stdexcept>
#include <system_error>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace lookout::cli {

namespace fs = std::filesystem;

fs::path resolve_default(const std::string& path, const char* default_path) {
  if (path != default_path || fs::exists(path)) return path;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const fs::path& dir : {exe.parent_path().parent_path(), exe.parent_path()})
      if (fs::exists(dir / path)) return dir / path;
  return path;
}

ModelFiles load_model_files(const std::string& model_path, const std::string& labels_path) {
  const fs::path model_file = resolve_default(model_path, detect::kDefaultModel);
  const fs::path labels_file = resolve_default(labels_path, detect::kDefaultLabels);
  if (!fs::exists(model_file))
    throw std::runtime_error("model file " + model_file.string() +
                             " not found: run scripts/setup (or make run) to fetch it, or pass --model");
  return {engine::Model::from_file(model_file), detect::Labels::from_file(labels_file)};
}

std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

void add_model_options(CLI::App& app, std::string& model_path, std::string& labels_path, const std::string& role) {
  const std::string suffix = role.empty() ? "" : " (" + role + ")";
  app.add_option("--model", model_path, "TFLite model file" + suffix)->type_name("FILE")->capture_default_str();
  app.add_option("--labels", labels_path, "labels file (\"id name\" lines)" + suffix)
      ->type_name("FILE")
      ->capture_default_str();
}

void add_local_cpu_option(CLI::App& app, double& cores) {
  app.add_option("--local-cpu", cores,
                 "cap this whole process (the local device: its detectors and its own uploads) at CORES CPUs' worth of "
                 "time for the whole command, e.g. 0.25 for a small board with a camera; a CPU quota in a cgroup of "
                 "its own (cgroup v2 cpu.max or v1 cpu.cfs_quota_us), removed on exit. Needs root and a cgroup cpu "
                 "controller")
      ->type_name("CORES")
      ->check(CLI::Validator(
          [](std::string& text) {
            double v = 0;
            try {
              size_t used = 0;
              v = std::stod(text, &used);
              if (used != text.size()) return "'" + text + "' is not a number of CPUs (e.g. 0.25)";
            } catch (const std::exception&) {
              return "'" + text + "' is not a number of CPUs (e.g. 0.25)";
            }
            return client::CpuQuota::invalid_cores(v);
          },
          ""));
}

std::unique_ptr<client::CpuQuota> local_cpu_quota(double cores) {
  if (cores == 0) return nullptr;
  try {
    return std::make_unique<client::CpuQuota>(cores);
  } catch (const std::exception& e) {
    char flag[48];
    std::snprintf(flag, sizeof flag, "--local-cpu %g: ", cores);
    throw std::runtime_error(flag + std::string(e.what()));
  }
}

std::string local_side_name(double cores) {
  if (cores == 0) return "local";
  char buf[48];
  std::snprintf(buf, sizeof buf, "local (%g CPU)", cores);
  return buf;
}

}  // namespace lookout::cli
