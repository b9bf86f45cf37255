// lookout: one binary, one verb per file in src/cli.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: lookout <command> [options]\n"
               "\n"
               "commands:\n"
               "  detect IMG|DIR...  find the objects in photos (table, JSON, JSONL, CSV or COCO results)\n"
               "  serve              the detector behind HTTP (port 5029; /api/detect, DeepStack, metrics)\n"
               "  bench IMAGE...     time the engine and the decode+inference pipeline on images\n"
               "  run DIR --target T send a collection to local and/or remote detectors, record timings (JSON lines)\n"
               "  offload DIR --remote URL  measure local vs remote, model the trade-off, verdict, hybrid run\n"
               "  map DIR --remote URL      offload over a grid of links and machine pairs (needs the lab)\n"
               "  report RESULTS...  lab results -> one offline HTML page with charts and the verdict (-o FILE)\n"
               "  collections make   build the lab's SMALL/MEDIUM/BIG photo collections from data/small\n"
               "\n"
               "Run 'lookout <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    usage(stdout);
    return 0;
  }
  if (command == "detect") return lookout::cli::detect_main(argc - 1, argv + 1);
  if (command == "serve") return lookout::cli::serve_main(argc - 1, argv + 1);
  if (command == "run") return lookout::cli::run_main(argc - 1, argv + 1);
  if (command == "offload") return lookout::cli::offload_main(argc - 1, argv + 1);
  if (command == "map") return lookout::cli::map_main(argc - 1, argv + 1);
  if (command == "bench") return lookout::cli::bench_main(argc - 1, argv + 1);
  if (command == "report") return lookout::cli::report_main(argc - 1, argv + 1);
  if (command == "collections") return lookout::cli::collections_main(argc - 1, argv + 1);
  std::fprintf(stderr, "lookout: unknown command '%s'\n\n", command.c_str());
  usage(stderr);
  return 2;
}
