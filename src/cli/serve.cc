// lookout serve: the detector behind HTTP (src/server). Flags here, the
// service there.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "cli/commands.h"
#include "detect/detector.h"
#include "server/server.h"

namespace lookout::cli {

namespace {

namespace fs = std::filesystem;

// "NAME=PATH", or "PATH" named after its file stem. Names are what URLs
// carry (?model=NAME, /v1/vision/custom/NAME): letters, digits, '.', '_', '-'.
server::ModelSpec parse_model_arg(const std::string& arg) {
  server::ModelSpec spec;
  const size_t eq = arg.find('=');
  if (eq != std::string::npos && arg.find('/') > eq) {
    spec.name = arg.substr(0, eq);
    spec.path = arg.substr(eq + 1);
  } else {
    spec.path = arg;
    spec.name = fs::path(arg).stem().string();
  }
  const bool name_ok = !spec.name.empty() && spec.name.size() <= 64 &&
                       std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
                       });
  if (!name_ok)
    throw CLI::ValidationError("--model", "model name '" + spec.name +
                                              "' must be 1-64 letters, digits, '.', '_' or '-' (NAME=PATH sets it)");
  if (spec.path.empty()) throw CLI::ValidationError("--model", "no file after '" + spec.name + "='");
  return spec;
}

}  // namespace

int serve_main(int argc, char** argv) {
  server::ServerOptions o;
  std::vector<std::string> model_args = {detect::kDefaultModel};
  o.labels = detect::kDefaultLabels;
  CLI::App app{"lookout serve: the detector behind HTTP.\n"
               "POST /api/detect[?model=NAME] (JSON base64 images, multipart files, or a raw image/jpeg|image/png\n"
               "body); DeepStack/CodeProject.AI: POST /v1/vision/detection, GET|POST /v1/vision/custom/list,\n"
               "POST /v1/vision/custom/NAME, GET /v1/server/status/ping (and /v1/status/ping); GET /api/model,\n"
               "/healthz, /v2/health/live, /v2/health/ready, /metrics (Prometheus, by model), and a web page at /\n"
               "to try it in a browser (embedded, works offline). SIGTERM/SIGINT drain and exit 0.",
               "lookout serve"};
  app.add_option("--host", o.host, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "TCP port")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--workers", o.workers,
                 "detectors in all, shared out over the models (at least one each; 0 = one per core)")->capture_default_str()->check(CLI::Range(0, 256));
  app.add_option("--threads-per-worker", o.threads_per_worker, "engine threads per detector")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--max-queue", o.max_queue, "images waiting for a worker before 503")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-body-mb", o.max_body_mb, "request body limit in MiB (413 above)")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--max-pixels", o.max_pixels, "refuse images declaring more pixels (400)")->capture_default_str();
  app.add_option("--api-key", o.api_key,
                 "require Authorization: Bearer KEY or X-API-Key: KEY on detection routes (on /v1/vision/* also "
                 "the form field api_key, as DeepStack clients send it)")
      ->envname("LOOKOUT_API_KEY");
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate: serve HTTPS")->type_name("FILE");
  app.add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert")->type_name("FILE");
  app.add_option("--drain-seconds", o.drain_seconds, "on SIGTERM/SIGINT, wait this long for in-flight requests")
      ->capture_default_str()->check(CLI::Range(0, 3600));
  app.add_option("--log-format", o.log_format, "request log on stderr: text or json")
      ->capture_default_str()->check(CLI::IsMember({"text", "json"}));
  app.add_option("--read-timeout", o.read_timeout, "seconds a client may send nothing mid-request before it is cut off")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--write-timeout", o.write_timeout, "seconds a client may read nothing of a response before it is cut off")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--keep-alive-timeout", o.keep_alive_timeout, "seconds an idle keep-alive connection is kept open")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--max-connections", o.max_connections,
                 "connections served at once (one thread each); more wait for a free one")
      ->capture_default_str()->check(CLI::Range(1, 65536));
  app.add_option("--model", model_args,
                 "TFLite model to serve, as NAME=FILE or FILE (named after its stem); repeat to serve several: "
                 "the first is the default, ?model=NAME on /api/detect and /v1/vision/custom/NAME pick another")
      ->type_name("[NAME=]FILE")->capture_default_str();
  app.add_option("--labels", o.labels, "labels file")->type_name("FILE")->capture_default_str();
  app.add_option("--backend", o.backend, "engine backend: xnnpack or reference")
      ->capture_default_str()->check(CLI::IsMember({"xnnpack", "reference"}));
  app.add_option("--isa", o.isa,
                 "level of our own x86 kernels on the xnnpack backend: avx512vnni, avxvnni, avx2 or xnnpack (none); "
                 "default: the best this CPU runs")
      ->check(CLI::IsMember({"avx512vnni", "avxvnni", "avx2", "xnnpack"}));
  // Every flag also reads LOOKOUT_<FLAG> (--max-body-mb: LOOKOUT_MAX_BODY_MB), so
  // a container or a Kubernetes pod configures the server without a command line.
  for (CLI::Option* opt : app.get_options()) {
    if (opt == app.get_help_ptr() || opt->get_lnames().empty()) continue;
    std::string env = "LOOKOUT_" + opt->get_lnames().front();
    for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    opt->envname(env);
  }
  app.footer("Every option can also be set by the environment variable shown (Env:LOOKOUT_...); a flag wins.");
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;
  try {
    for (std::string& arg : model_args) {
      server::ModelSpec spec = parse_model_arg(arg);
      spec.path = resolve_default(spec.path, detect::kDefaultModel);
      for (const server::ModelSpec& other : o.models)
        if (other.name == spec.name)
          throw CLI::ValidationError("--model", "two models named '" + spec.name + "': name them with NAME=FILE");
      o.models.push_back(std::move(spec));
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.labels = resolve_default(o.labels, detect::kDefaultLabels);
  return server::run_server(o);
}

}  // namespace lookout::cli
