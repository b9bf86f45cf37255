// The offloading lab's report, its page: one self-contained HTML file drawn
// from what report_data.h worked out. Tables and text are HTML here; the
// charts are Chart.js, inlined, fed the chart data as JSON in the page; the
// page's markup, CSS and script are the files in src/offload/page/,
// compiled in. Opening the page fetches nothing.
#pragma once

#include <string>

#include "offload/report_data.h"

namespace lookout::offload {

// The whole page. `chart_js` is the charting library's source, inlined.
std::string render_html(const ReportData& data, const std::string& chart_js);

// Chart.js as compiled into the binary (empty when the build had no
// node_modules/chart.js).
std::string embedded_chart_js();

}  // namespace lookout::offload
