// `lookout report` pinned on fixed inputs (tests/lab/report-golden/: real
// results and offload.json files from the lab, one line torn on purpose; a
// map.json written as a fixture):
// the page's text and markup, and the chart data it hands to Chart.js, as
// rendered when they were written. The CSS and scripts are left out of the
// comparison (their files can change without changing what the page says);
// numbers in the chart data compare to 1e-9 relative, since the curves come
// from floating-point arithmetic that may be regrouped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "offload/report_data.h"
#include "offload/report_page.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace offload = lookout::offload;

const fs::path kGolden = fs::path(LOOKOUT_SOURCE_DIR) / "tests/lab/report-golden";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The inputs are named as the golden pages name them (relative, as a user
// types them), so the page is read from inside the golden directory.
class InGoldenDir {
 public:
  InGoldenDir() : before_(fs::current_path()) { fs::current_path(kGolden); }
  ~InGoldenDir() { fs::current_path(before_); }

 private:
  fs::path before_;
};

std::string render(const std::vector<fs::path>& files) {
  const InGoldenDir in_golden;
  return offload::render_html(offload::aggregate(offload::read_inputs(files)), "CHART_JS");
}

// The chart data the page carries.
json page_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const size_t begin = html.find(open);
  if (begin == std::string::npos) throw std::runtime_error("no report-data element in the page");
  const size_t data = begin + open.size();
  return json::parse(html.substr(data, html.find("</script>", data) - data));
}

// The page without what its <style> and <script> elements hold.
std::string markup(std::string html) {
  for (const auto& [open, close] : {std::pair{"<style", "</style>"}, std::pair{"<script", "</script>"}}) {
    for (size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
      const size_t content = html.find('>', at) + 1;
      html.erase(content, html.find(close, content) - content);
    }
  }
  return html;
}

// Equal, numbers to a relative 1e-9; `path` names where they differ.
void expect_same(const json& expected, const json& actual, const std::string& path) {
  if (expected.is_number() && actual.is_number()) {
    const double e = expected.get<double>(), a = actual.get<double>();
    EXPECT_LE(std::fabs(a - e), 1e-9 * std::max(1.0, std::fabs(e))) << path << ": " << a << " against " << e;
    return;
  }
  ASSERT_EQ(expected.type(), actual.type()) << path << ": " << actual.dump() << " against " << expected.dump();
  if (expected.is_array()) {
    ASSERT_EQ(expected.size(), actual.size()) << path;
    for (size_t i = 0; i < expected.size(); ++i) expect_same(expected[i], actual[i], path + "[" + std::to_string(i) + "]");
  } else if (expected.is_object()) {
    ASSERT_EQ(expected.size(), actual.size()) << path << ": " << actual.dump();
    for (const auto& [key, value] : expected.items()) {
      ASSERT_TRUE(actual.contains(key)) << path << "." << key << " is missing";
      expect_same(value, actual[key], path + "." + key);
    }
  } else {
    EXPECT_EQ(expected, actual) << path;
  }
}

void expect_page(const std::string& html, const std::string& golden) {
  EXPECT_EQ(markup(html), read(kGolden / (golden + ".html")));
  expect_same(json::parse(read(kGolden / (golden + ".data.json"))), page_data(html), "data");
  EXPECT_NE(html.find("<script>CHART_JS</script>"), std::string::npos);
}

TEST(ReportGolden, ResultsAndTwoOffloadFiles) {
  expect_page(render({"results.jsonl", "offload.json", "offload-big.json"}), "with-offload");
}

TEST(ReportGolden, ResultsAlone) { expect_page(render({"results.jsonl"}), "results-only"); }

// map.json is a fixture (see report_map_test.cc): the page of a map alone.
TEST(ReportGolden, MapAlone) { expect_page(render({"map.json"}), "map-only"); }

}  // namespace
