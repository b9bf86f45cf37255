#include "wire/number.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace lookout::wire {

std::string shortest_text(float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

double exact_float(float v) { return std::strtod(shortest_text(v).c_str(), nullptr); }

double ms(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace lookout::wire
