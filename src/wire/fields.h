// Reading one field of a wire document, with errors that name it. Shared by
// the wire formats' from_json hooks; not part of their public interface.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "wire/detection.h"

namespace lookout::wire::fields {

template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

template <typename T>
bool has_type(const Json& v) {
  if constexpr (std::is_same_v<T, std::string>) return v.is_string();
  else if constexpr (std::is_same_v<T, bool>) return v.is_boolean();
  else if constexpr (std::is_arithmetic_v<T>) return v.is_number();
  else if constexpr (is_vector<T>::value) return v.is_array();
  else return v.is_object();
}

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_arithmetic_v<T>) return "a number";
  else if constexpr (is_vector<T>::value) return "an array";
  else return "an object";
}

inline void require_object(const Json& j, const char* what) {
  if (!j.is_object()) throw FormatError(std::string(what) + " must be a JSON object, not " + j.type_name());
}

// The field `key` as T; absent or null -> nullopt; of another type -> FormatError.
template <typename T>
std::optional<T> optional(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!has_type<T>(*it))
    throw FormatError(std::string("\"") + key + "\" must be " + type_name<T>() + ", not " + it->type_name());
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // A fraction or a number past T's range is refused, not converted
    // (converting an out-of-range double is undefined behaviour).
    const double d = it->template get<double>();
    // 2^bits (or 2^(bits-1) when signed) is exact as a double; T's max is not.
    const double limit = std::is_signed_v<T> ? -static_cast<double>(std::numeric_limits<T>::min())
                                             : static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
    if (!(d >= static_cast<double>(std::numeric_limits<T>::min()) && d < limit && d == std::floor(d)))
      throw FormatError(std::string("\"") + key + "\" must be a whole number in range, not " + it->dump());
    if (it->is_number_float()) return static_cast<T>(d);
  }
  try {
    return it->template get<T>();
  } catch (const FormatError& e) {
    throw FormatError(std::string("\"") + key + "\": " + e.what());
  }
}

// The field `key` as T; absent -> FormatError naming it.
template <typename T>
T required(const Json& j, const char* key) {
  std::optional<T> v = optional<T>(j, key);
  if (!v) throw FormatError(std::string("\"") + key + "\" is missing");
  return std::move(*v);
}

// The field `key` as T, or `fallback` when absent.
template <typename T>
T value_or(const Json& j, const char* key, T fallback) {
  std::optional<T> v = optional<T>(j, key);
  return v ? std::move(*v) : std::move(fallback);
}

}  // namespace lookout::wire::fields
