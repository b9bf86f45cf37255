// Reading a wire document's fields into typed structs, with errors that name
// the field by its path in the document ("remote.bandwidth_mbps",
// "runs[0].label") and say what was expected and what was found. Used by the
// formats' from_json functions; nlohmann's own messages ("type must be
// number, but is string") name neither the field nor where it sits.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lookout::wire {

// A field missing or of the wrong type.
class FieldError : public std::invalid_argument {
 public:
  FieldError(std::string path, const std::string& problem)
      : std::invalid_argument(path.empty() ? problem : path + ": " + problem), path_(std::move(path)), problem_(problem) {}
  const std::string& path() const { return path_; }
  // The same error one level up: within("runs") of "[0].label" is "runs[0].label".
  FieldError within(const std::string& parent) const;

 private:
  std::string path_, problem_;
};

// One JSON value into a typed one; throws FieldError (with an empty path,
// which read() fills in) when the type does not fit.
void read_value(const nlohmann::json& v, double& out);
void read_value(const nlohmann::json& v, int& out);
void read_value(const nlohmann::json& v, size_t& out);
void read_value(const nlohmann::json& v, bool& out);
void read_value(const nlohmann::json& v, std::string& out);
// null reads as nullopt.
void read_value(const nlohmann::json& v, std::optional<double>& out);
// A struct with its own from_json.
template <class T>
void read_value(const nlohmann::json& v, T& out) {
  from_json(v, out);
}
template <class T>
void read_value(const nlohmann::json& v, std::vector<T>& out) {
  if (!v.is_array()) throw FieldError("", std::string("expected an array, found ") + v.type_name());
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    try {
      read_value(v[i], out.emplace_back());
    } catch (const FieldError& e) {
      throw e.within("[" + std::to_string(i) + "]");
    }
  }
}

// Throws FieldError unless `v` is an object (the first check of a struct's from_json).
void expect_object(const nlohmann::json& v);

// obj[key] into `out`; a missing key is an error.
template <class T>
void read(const nlohmann::json& obj, const char* key, T& out) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw FieldError(key, "missing");
  try {
    read_value(*it, out);
  } catch (const FieldError& e) {
    throw e.within(key);
  }
}

// obj[key] into `out` when the key is there; nullopt when it is not.
template <class T>
void read_if_present(const nlohmann::json& obj, const char* key, std::optional<T>& out) {
  out.reset();
  if (obj.contains(key)) read(obj, key, out.emplace());
}

}  // namespace lookout::wire
