// The offloading map in the report, its numbers and its words: map.json
// (wire/map.h, from `lookout map`) in; per cell the measured and the
// predicted winner among local, remote and hybrid, the speedup over local
// and the model's errors; per machine pair and RTT the model's break-even
// bandwidth; and the answers in sentences, each computed from the cells.
// No HTML here: report_page.h draws it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "offload/chart_spec.h"
#include "wire/map.h"

namespace lookout::offload {

enum class Schedule { local, remote, hybrid };
const char* schedule_name(Schedule s);
// The schedule's colour in the maps, their legend and the scatter.
const char* schedule_colour(Schedule s);

// A cell's three ways to run the collection, one figure each.
struct Triple {
  double local = 0, remote = 0, hybrid = 0;
  double of(Schedule s) const { return s == Schedule::local ? local : s == Schedule::remote ? remote : hybrid; }
  // The smallest; a tie goes to the simpler schedule (local, then remote).
  Schedule fastest() const;
};

// One cell of the map, worked out.
struct MapCellResult {
  std::string key;  // wire::MapFile::Cell::key()
  wire::MapFile::Pair pair;
  double bandwidth_mbps = 0, rtt_ms = 0;
  bool resized = false;
  size_t images = 0;
  double mean_request_bytes = 0;
  // The cell's fitted model: per image (ms) for local and remote, the
  // makespan (s) for hybrid; and the wall times of the three validation
  // runs it predicts (local and remote run one image at a time).
  Triple predicted, predicted_wall_s;
  Schedule predicted_winner = Schedule::local;
  // Where the model's T_remote equals T_local, at the cell's measured RTT;
  // nullopt: no bandwidth is enough.
  std::optional<double> break_even_mbps;
  // From the validation runs; false when the cell has none (--no-validate).
  bool measured = false;
  Triple measured_value, measured_wall_s;  // as `predicted`, `predicted_wall_s`
  Schedule winner = Schedule::local;
  double speedup = 1;          // local wall / the winner's wall
  double offload_speedup = 1;  // local wall / the better of remote and hybrid
  // The hybrid's wall over the ideal split, where both sides finish
  // together: 1 / (1 / local wall + 1 / remote wall), from the runs alone.
  double hybrid_over_ideal = 0;
  // The local run repeated at the cell's end (0: the cell has none), and
  // its drift from the first, again / first - 1: this machine's own
  // variation, against which T_local's error can be read.
  double local_again_ms = 0, local_drift = 0;
  Triple error;                // (predicted - measured) / measured, per schedule
  bool winner_missed() const { return measured && predicted_winner != winner; }
};

MapCellResult map_cell_result(const wire::MapFile::Cell& cell);

// One heatmap: a machine pair, with or without downscaling before upload,
// over the map's whole grid (a cell not measured is absent from `cells`).
struct Heatmap {
  std::string id, title;
  wire::MapFile::Pair pair;
  bool resized = false;
  std::vector<size_t> cells;  // indices into MapReport::cells
  // Per RTT of the grid: the median over that row's cells of their
  // models' break-even bandwidths (nullopt: most say no bandwidth pays).
  // Rows without cells are left out.
  std::vector<std::pair<double, std::optional<double>>> boundary;
};

// The seed experiment's setting on the map: its measured upload of 0.10 s
// per image as a bandwidth for this collection's mean request, and its
// remote inference 1.6x slower than local, run through the model of a cell
// of the equal-machines pair.
struct SeedSetting {
  static constexpr double kUploadS = 0.10, kRemoteSlowdown = 1.6;
  double mean_request_bytes = 0;
  double bandwidth_mbps = 0;
  size_t model_cell = 0;  // index into MapReport::cells: whose fitted model
  double server_ms = 0, slowed_server_ms = 0;
  Triple predicted, predicted_wall_s;  // as in MapCellResult
  Schedule winner = Schedule::local;
};

// A point of the predicted-vs-measured scatter outside the +/-10 % band.
struct MapMiss {
  std::string key, schedule;
  double predicted = 0, measured = 0, error = 0;  // ms per image (hybrid: makespan / images)
};

struct MapReport {
  std::string source, collection, cpu, created;
  size_t images = 0;
  std::vector<MapCellResult> cells;  // in the file's order
  std::vector<double> bandwidths, rtts;  // the grid's axes, ascending
  std::vector<wire::MapFile::Pair> pairs;  // first-appearance order
  std::vector<std::string> missing;        // keys of the grid's cells not in the file
  std::vector<Heatmap> heatmaps;           // per pair: without, then with downscaling
  std::optional<SeedSetting> seed;
  ChartSpec scatter;  // predicted against measured, log-log
  std::vector<MapMiss> misses;
  // The answers, each a sentence computed from the cells, under their
  // topics: the map itself, where offloading pays, what each lever buys,
  // the seed experiment's setting, the model's accuracy.
  struct Answers {
    std::string topic;
    std::vector<std::string> sentences;
  };
  std::vector<Answers> answers;
  // Every sentence, in order.
  std::vector<std::string> sentences() const;
};

// `index` tells apart the element ids of several maps in one page.
MapReport map_report(const std::string& source, const wire::MapFile& map, size_t index);

// "local 0.25 / remote 1 cpu"
std::string pair_text(const wire::MapFile::Pair& pair);
// 0.25, 1, 1000: a setting of the grid as a person types it.
std::string setting_text(double v);
bool same_pair(const wire::MapFile::Pair& a, const wire::MapFile::Pair& b);

}  // namespace lookout::offload
