// A chart of the report page, as data: what the page hands to Chart.js.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace lookout::offload {

// kind: "bar" (labels + one value per label) or "xy" (points {x,y}).
struct Series {
  std::string label, color;
  std::vector<double> values;                     // bar
  std::vector<std::pair<double, double>> points;  // xy
  bool line = true;                               // xy: connect the points
  bool stepped = false;
  double point_radius = 0;
  std::string point_style = "circle";
  bool dashed = false;
  bool fill_to_previous = false;  // xy: shade between this series and the one before
};
struct ChartSpec {
  std::string id, title, kind, x_label, y_label;
  bool x_log = false, y_log = false;
  std::vector<std::string> labels;  // bar
  std::vector<Series> series;
  std::string note;  // shown under the chart
};

}  // namespace lookout::offload
