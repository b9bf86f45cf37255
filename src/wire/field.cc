#include "wire/field.h"

#include <cstdint>
#include <limits>

namespace lookout::wire {

namespace {

[[noreturn]] void mistyped(const nlohmann::json& v, const char* expected) {
  // A scalar is shown as it is written; a string, array or object by its kind.
  const bool scalar = v.is_number() || v.is_boolean() || v.is_null();
  const std::string kind = v.type_name();
  const std::string found = scalar ? v.dump() : (kind == "string" ? "a " : "an ") + kind;
  throw FieldError("", std::string("expected ") + expected + ", found " + found);
}

}  // namespace

FieldError FieldError::within(const std::string& parent) const {
  if (path_.empty()) return FieldError(parent, problem_);
  return FieldError(path_.front() == '[' ? parent + path_ : parent + "." + path_, problem_);
}

void read_value(const nlohmann::json& v, double& out) {
  if (!v.is_number()) mistyped(v, "a number");
  out = v.get<double>();
}

void read_value(const nlohmann::json& v, int& out) {
  constexpr int64_t lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                           : v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!fits) mistyped(v, "a whole number");
  out = v.get<int>();
}

void read_value(const nlohmann::json& v, size_t& out) {
  if (!v.is_number_unsigned()) mistyped(v, "a whole number >= 0");
  out = v.get<size_t>();
}

void read_value(const nlohmann::json& v, bool& out) {
  if (!v.is_boolean()) mistyped(v, "true or false");
  out = v.get<bool>();
}

void read_value(const nlohmann::json& v, std::string& out) {
  if (!v.is_string()) mistyped(v, "a string");
  out = v.get<std::string>();
}

void read_value(const nlohmann::json& v, std::optional<double>& out) {
  if (v.is_null()) {
    out.reset();
    return;
  }
  read_value(v, out.emplace());
}

void expect_object(const nlohmann::json& v) {
  if (!v.is_object()) mistyped(v, "an object");
}

}  // namespace lookout::wire
