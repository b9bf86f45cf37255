// lookout report: results, offload summaries and maps -> one self-contained HTML
// page (src/offload/report_data.h works out the numbers, report_page.h draws them).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "cli/commands.h"
#include "offload/report_data.h"
#include "offload/report_page.h"

namespace lookout::cli {

int report_main(int argc, char** argv) {
  std::vector<std::string> inputs;
  std::string output;
  CLI::App app{"lookout report: render lab results into one HTML page that works offline: the verdict, mean\n"
               "inference/upload/total time per collection and target (the original experiment's Table 3 and\n"
               "Figure 2), the distribution of total times (CDF) and the cost model's break-even curve (time per\n"
               "image vs upload bandwidth). Chart.js is inlined; the page fetches nothing.\n"
               "\n"
               "Inputs: results JSONL from `lookout run --out FILE` (one record per image; a malformed line is\n"
               "skipped with a warning naming file:line) and, optionally, offload summaries from\n"
               "`lookout offload --json FILE` (recognized by their \"model\"/\"verdict\" keys). Without an offload\n"
               "summary the verdict and the break-even curve are estimated from the results.\n"
               "\n"
               "A map.json from `lookout map` (recognized by its \"cells\") adds \"Where offloading pays\": per\n"
               "machine pair a heatmap over bandwidth x RTT coloured by the measured winner (local, remote or\n"
               "hybrid) and labelled with its speedup over local, the model's break-even drawn over it, the same\n"
               "with downscaling before upload beside it; predicted against measured with the +/-10 % band; a\n"
               "table of every cell; and the answers in words (where offloading pays, what a stronger remote,\n"
               "more bandwidth and downscaling buy, the seed experiment's setting on the map). A partial map\n"
               "(a sweep still running) is drawn with its missing cells named. A map alone makes a report.\n"
               "\n"
               "Exit codes: 0 written; 1 written, but some lines were skipped; 2 bad usage, an unreadable file,\n"
               "or neither result records nor a map.",
               "lookout report"};
  app.add_option("files", inputs, "results JSONL, offload JSON and map JSON files, in any order")->required()->type_name("FILE");
  app.add_option("-o,--output", output, "the HTML page to write")->required()->type_name("FILE");
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;

  const std::string chart_js = offload::embedded_chart_js();
  if (chart_js.empty()) {
    std::fprintf(stderr,
                 "lookout report: this binary was built without Chart.js (node_modules/chart.js was missing at "
                 "configure time); run scripts/setup, then configure and build again\n");
    return 2;
  }
  offload::ReportInput input;
  try {
    input = offload::read_inputs({inputs.begin(), inputs.end()});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout report: %s\n", e.what());
    return 2;
  }
  for (const std::string& w : input.warnings) std::fprintf(stderr, "lookout report: warning: %s; line skipped\n", w.c_str());
  if (input.records.empty() && input.maps.empty()) {
    std::fprintf(stderr,
                 "lookout report: no result records in the input files; results come from "
                 "`lookout run DIR --target local --target http://HOST:5029 --out results.jsonl` (one JSON object "
                 "per line with image, target and ok), a map from `lookout map`: pass one of those\n");
    return 2;
  }

  const std::string html = offload::render_html(offload::aggregate(input), chart_js);
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  out << html;
  out.close();
  if (!out) {
    std::fprintf(stderr, "lookout report: cannot write %s; check that its directory exists and is writable\n",
                 output.c_str());
    return 2;
  }
  const size_t skipped = input.warnings.size();
  const std::string skipped_note = skipped == 0 ? "" : ", " + std::to_string(skipped) + (skipped == 1 ? " line" : " lines") + " skipped";
  size_t cells = 0;
  for (const offload::MapInput& m : input.maps) cells += m.map.cells.size();
  const std::string maps_note =
      input.maps.empty() ? "" : ", " + std::to_string(input.maps.size()) + (input.maps.size() == 1 ? " map of " : " maps of ") +
                                    std::to_string(cells) + " cells";
  std::fprintf(stderr, "lookout report: wrote %s (%zu results, %zu offload summaries%s%s)\n", output.c_str(),
               input.records.size(), input.offloads.size(), maps_note.c_str(), skipped_note.c_str());
  return input.warnings.empty() ? 0 : 1;
}

}  // namespace lookout::cli
