// lookout collections make: the lab's SMALL/MEDIUM/BIG photo collections,
// derived from real photos (src/client/collections.h). Flags and reporting
// here; derivation there.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "client/collections.h"
#include "detect/parallel.h"

namespace lookout::cli {

namespace {

constexpr const char* kFooter =
    "Each collection is a directory under --out named after it (SMALL, MEDIUM, BIG) holding\n"
    "that many JPEGs, 14-495 KB each as in the original experiment, plus manifest.jsonl\n"
    "(file, source, transform, bytes per line). Image i is derived from source photo i % N\n"
    "(sorted by name): crop 55-100 % of each side, maybe mirrored, scaled to the size that\n"
    "puts the JPEG (quality 60-95) near a size drawn log-uniformly over the range. Files are\n"
    "named NNNN_<source>_crop<W>x<H>+<X>+<Y>[_flip]_<W>x<H>_q<Q>.jpg. Same photos in, the\n"
    "same bytes out, whatever --jobs. A complete collection is left as it is (delete its\n"
    "directory to rebuild it); an interrupted one is rebuilt.\n"
    "\n"
    "Exit codes: 0 done, 1 a collection could not be built, 2 bad arguments.";

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

int collections_main(int argc, char** argv) {
  std::string from = "data/small", out = "data", only;
  int jobs = detect::available_cores();
  CLI::App app{"Build the lab's photo collections: SMALL (296), MEDIUM (2070), BIG (4913) JPEGs\n"
               "derived deterministically from real photos.",
               "lookout collections"};
  app.footer(kFooter);
  app.require_subcommand(1);
  CLI::App* make = app.add_subcommand("make", "build the collections that are missing or incomplete");
  make->footer(kFooter);
  make->add_option("--from", from, "directory of source photos (.jpg/.jpeg/.png, not recursive)")->capture_default_str();
  make->add_option("--out", out, "where the collection directories go")->capture_default_str();
  make->add_option("--only", only, "comma-separated subset: small, medium, big (default: all three)");
  make->add_option("--jobs", jobs, "threads (default: the cores this process may use)")->capture_default_str()->check(CLI::Range(1, 256));
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;

  std::vector<client::CollectionSpec> wanted;
  std::set<std::string> names;
  std::stringstream list(only);
  for (std::string item; std::getline(list, item, ',');) names.insert(upper(item));
  for (const std::string& n : names) {
    const auto& all = client::standard_collections();
    if (std::none_of(all.begin(), all.end(), [&](const auto& s) { return s.name == n; })) {
      std::fprintf(stderr, "lookout collections make: unknown collection '%s' in --only (use small, medium, big)\n", n.c_str());
      return 2;
    }
  }
  for (const client::CollectionSpec& s : client::standard_collections())
    if (names.empty() || names.contains(s.name)) wanted.push_back(s);

  std::vector<client::SourcePhoto> sources;
  try {
    sources = client::load_sources(resolve_default(from, "data/small"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout collections make: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "lookout collections make: %zu source photos from %s, %d threads\n", sources.size(), from.c_str(), jobs);

  int status = 0;
  for (const client::CollectionSpec& spec : wanted) {
    Progress progress(spec.images, isatty(STDERR_FILENO) != 0);
    client::MakeOptions options;
    options.jobs = jobs;
    options.on_progress = [&](size_t done, size_t total) { progress.update(done, done == total); };
    try {
      const client::MakeResult r = client::make_collection(sources, spec, out, options);
      progress.clear();
      std::printf("%-6s %5zu images in %s, %.1f-%.1f KB (mean %.1f KB), %s %.1f s\n", spec.name.c_str(), r.images,
                  r.dir.string().c_str(), r.min_bytes / 1024.0, r.max_bytes / 1024.0,
                  r.images ? static_cast<double>(r.total_bytes) / static_cast<double>(r.images) / 1024.0 : 0.0,
                  r.already_complete ? "already complete, checked in" : "built in", r.seconds);
      std::fflush(stdout);
    } catch (const std::exception& e) {
      progress.clear();
      std::fprintf(stderr, "lookout collections make: %s\n", e.what());
      status = 1;
    }
  }
  return status;
}

}  // namespace lookout::cli
