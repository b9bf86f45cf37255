// The wire formats' one rounding rule, so that the same value reads the same
// in every format that carries it:
//   - a float32 measurement (score, box coordinate) is written as the
//     shortest decimal that reads back as the same float ("0.96", not
//     0.9599999785...): exact, and no float->double noise;
//   - a duration in milliseconds is rounded to the microsecond (three
//     decimals): finer than any clock we read, and short.
#pragma once

#include <string>

namespace lookout::wire {

// The shortest decimal text that reads back as `v`.
std::string shortest_text(float v);
// That decimal as a double (what nlohmann writes back as the same text).
double exact_float(float v);
// Milliseconds rounded to three decimals.
double ms(double v);

}  // namespace lookout::wire
