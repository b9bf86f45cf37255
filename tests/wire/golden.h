// Golden files of the wire formats (tests/wire/golden/): read whole or by
// line, a line read into its type and written back byte for byte, and the
// message of a refusal.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "wire/detection.h"

namespace lookout::wire::testing {

inline std::string golden_path(const std::string& name) {
  return std::string(LOOKOUT_SOURCE_DIR) + "/tests/wire/golden/" + name;
}

inline std::string read_golden(const std::string& name) {
  std::ifstream in(golden_path(name));
  EXPECT_TRUE(in) << "cannot open " << golden_path(name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> golden_lines(const std::string& name) {
  std::vector<std::string> lines;
  std::stringstream ss(read_golden(name));
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

// The golden's one line, read as T and written back.
template <typename T>
T round_trip(const std::string& line) {
  const T value = Json::parse(line).get<T>();
  EXPECT_EQ(dump(Json(value)), line);
  return value;
}

// Why T refuses `text` (FormatError's message), or "(accepted)".
template <typename T>
std::string refusal(const std::string& text) {
  try {
    (void)Json::parse(text).get<T>();
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace lookout::wire::testing
