#include "wire/kserve.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "wire/fields.h"
#include "wire/number.h"

namespace lookout::wire {

using fields::optional;
using fields::required;
using fields::value_or;

namespace {

// Nested data deeper than this is refused before it is walked: no tensor
// of ours has more dimensions.
constexpr size_t kMaxRank = 16;
constexpr int64_t kMaxElements = int64_t{1} << 40;

// An integer datatype's name and range (exact as doubles: 2^64 - 1 rounds
// up to 2^64, which `v < limit` then excludes).
struct IntegerType {
  const char* name;
  double min, limit;  // min <= v < limit
  const char* range;
};
constexpr std::array<IntegerType, 8> kIntegerTypes = {
    {{"UINT8", 0, 256.0, "0..255"},
     {"UINT16", 0, 65536.0, "0..65535"},
     {"UINT32", 0, 4294967296.0, "0..2^32-1"},
     {"UINT64", 0, 18446744073709551616.0, "0..2^64-1"},
     {"INT8", -128, 128.0, "-128..127"},
     {"INT16", -32768, 32768.0, "-32768..32767"},
     {"INT32", -2147483648.0, 2147483648.0, "-2^31..2^31-1"},
     {"INT64", -9223372036854775808.0, 9223372036854775808.0, "-2^63..2^63-1"}}};
constexpr std::array<const char*, 3> kFloatTypes = {"FP16", "FP32", "FP64"};
constexpr const char* kBinaryDataSize = "binary_data_size";

const IntegerType* integer_type(const std::string& datatype) {
  for (const IntegerType& t : kIntegerTypes)
    if (datatype == t.name) return &t;
  return nullptr;
}

bool is_float_type(const std::string& datatype) {
  return std::find(kFloatTypes.begin(), kFloatTypes.end(), datatype) != kFloatTypes.end();
}

// Rethrows a FormatError from `read` with `where` in front of its message.
template <typename F>
auto within(const std::string& where, F&& read) {
  try {
    return read();
  } catch (const FormatError& e) {
    throw FormatError(where + ": " + e.what());
  }
}

Json read_parameters(const Json& j) {
  const auto it = j.find("parameters");
  if (it == j.end() || it->is_null()) return Json::object();
  if (!it->is_object()) throw FormatError(std::string("\"parameters\" must be an object, not ") + it->type_name());
  for (const auto& [key, value] : it->items())
    if (!value.is_string() && !value.is_number() && !value.is_boolean())
      throw FormatError("parameter \"" + key + "\" must be a string, number or boolean, not " + value.type_name());
  return *it;
}

// A shape: whole numbers, -1 allowed only where `variable` (metadata).
std::vector<int64_t> read_shape(const Json& j, bool variable) {
  const auto it = j.find("shape");
  if (it == j.end() || it->is_null()) throw FormatError("\"shape\" is missing");
  if (!it->is_array()) throw FormatError(std::string("\"shape\" must be an array, not ") + it->type_name());
  if (it->size() > kMaxRank)
    throw FormatError("\"shape\" has " + std::to_string(it->size()) + " dimensions; at most " +
                      std::to_string(kMaxRank) + " are taken");
  std::vector<int64_t> shape;
  for (const Json& d : *it) {
    const double v = d.is_number() ? d.get<double>() : -2.0;
    if (!(v == std::floor(v) && v >= (variable ? -1.0 : 0.0) && v < static_cast<double>(kMaxElements)))
      throw FormatError("\"shape\" must hold whole numbers >= " + std::string(variable ? "-1" : "0") + ", not " +
                        d.dump());
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

// The leaves of `data` in row-major order (nested arrays flattened).
void flatten(const Json& data, size_t depth, std::vector<const Json*>& out) {
  if (!data.is_array()) {
    out.push_back(&data);
    return;
  }
  if (depth > kMaxRank) throw FormatError("\"data\" is nested deeper than any shape");
  for (const Json& v : data) flatten(v, depth + 1, out);
}

std::string element(size_t i) { return "\"data\"[" + std::to_string(i) + "]"; }

// The data of `t` (its datatype and shape read) from j["data"].
void read_data(const Json& j, KServeTensor& t) {
  const auto it = j.find("data");
  if (it == j.end() || it->is_null()) throw FormatError("\"data\" is missing");
  if (!it->is_array()) throw FormatError(std::string("\"data\" must be an array, not ") + it->type_name());
  std::vector<const Json*> leaves;
  flatten(*it, 0, leaves);
  const int64_t expected = kserve_elements(t.shape);
  if (static_cast<int64_t>(leaves.size()) != expected) {
    std::string shape;
    for (int64_t d : t.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    throw FormatError("\"data\" holds " + std::to_string(leaves.size()) + " elements; shape [" + shape + "] needs " +
                      std::to_string(expected));
  }
  if (t.datatype == "BYTES") {
    t.strings.reserve(leaves.size());
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (!leaves[i]->is_string())
        throw FormatError(element(i) + " must be a string (BYTES), not " + leaves[i]->type_name());
      t.strings.push_back(leaves[i]->get<std::string>());
    }
    return;
  }
  t.numbers.reserve(leaves.size());
  if (t.datatype == "BOOL") {
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (!leaves[i]->is_boolean())
        throw FormatError(element(i) + " must be true or false (BOOL), not " + leaves[i]->dump());
      t.numbers.push_back(leaves[i]->get<bool>() ? 1.0 : 0.0);
    }
    return;
  }
  const IntegerType* integer = integer_type(t.datatype);
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i]->is_number())
      throw FormatError(element(i) + " must be a number (" + t.datatype + "), not " + leaves[i]->type_name());
    const double v = leaves[i]->get<double>();
    if (integer != nullptr && !(v >= integer->min && v < integer->limit && v == std::floor(v)))
      throw FormatError(element(i) + " = " + leaves[i]->dump() + " is not a whole number in " + t.datatype +
                        "'s range " + integer->range);
    t.numbers.push_back(v);
  }
}

Json write_data(const KServeTensor& t) {
  Json data = Json::array();
  if (t.datatype == "BYTES") {
    for (const std::string& s : t.strings) data.push_back(s);
  } else if (t.datatype == "BOOL") {
    for (double v : t.numbers) data.push_back(v != 0.0);
  } else if (integer_type(t.datatype) != nullptr) {
    for (double v : t.numbers) data.push_back(static_cast<int64_t>(v));
  } else if (t.datatype == "FP64") {
    for (double v : t.numbers) data.push_back(v);
  } else {  // FP16, FP32: the one rounding rule for float measurements
    for (double v : t.numbers) data.push_back(exact_float(static_cast<float>(v)));
  }
  return data;
}

std::string read_datatype(const Json& j) {
  std::string datatype = required<std::string>(j, "datatype");
  if (!is_kserve_datatype(datatype))
    throw FormatError("\"datatype\" '" + datatype +
                      "' is not one of the protocol's: BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, "
                      "INT64, FP16, FP32, FP64, BYTES");
  return datatype;
}

// An array field of objects read one by one, each error naming its index.
template <typename T>
std::vector<T> read_list(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw FormatError(std::string("\"") + key + "\" is missing");
  if (!it->is_array()) throw FormatError(std::string("\"") + key + "\" must be an array, not " + it->type_name());
  std::vector<T> out;
  for (size_t i = 0; i < it->size(); ++i)
    out.push_back(within(std::string(key) + "[" + std::to_string(i) + "]", [&] { return (*it)[i].template get<T>(); }));
  return out;
}

void put_parameters(Json& j, const Json& parameters) {
  if (!parameters.empty()) j["parameters"] = parameters;
}

}  // namespace

bool is_kserve_datatype(const std::string& datatype) {
  return datatype == "BOOL" || datatype == "BYTES" || integer_type(datatype) != nullptr || is_float_type(datatype);
}

int64_t kserve_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw FormatError("a shape's dimensions must be >= 0, not " + std::to_string(d));
    if (d != 0 && n > kMaxElements / d)
      throw FormatError("a shape holding more than 2^40 elements is refused");
    n *= d;
  }
  return n;
}

std::optional<int64_t> kserve_binary_size(const KServeTensor& t) {
  const auto it = t.parameters.find(kBinaryDataSize);
  if (it == t.parameters.end()) return std::nullopt;
  const double v = it->is_number() ? it->get<double>() : -1.0;
  if (!(v >= 0 && v < static_cast<double>(kMaxElements) && v == std::floor(v)))
    throw FormatError(std::string("parameter \"") + kBinaryDataSize + "\" must be a whole number >= 0, not " +
                      it->dump());
  return static_cast<int64_t>(v);
}

void to_json(Json& j, const KServeServerMetadata& m) {
  j = Json{{"name", m.name}, {"version", m.version}, {"extensions", m.extensions}};
}

void from_json(const Json& j, KServeServerMetadata& m) {
  fields::require_object(j, "server metadata");
  m.name = required<std::string>(j, "name");
  m.version = required<std::string>(j, "version");
  m.extensions = value_or(j, "extensions", std::vector<std::string>{});
}

void to_json(Json& j, const KServeTensorMetadata& t) {
  j = Json{{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}};
}

void from_json(const Json& j, KServeTensorMetadata& t) {
  fields::require_object(j, "tensor metadata");
  t.name = required<std::string>(j, "name");
  t.datatype = read_datatype(j);
  t.shape = read_shape(j, true);
}

void to_json(Json& j, const KServeModelMetadata& m) {
  j = Json{{"name", m.name}};
  if (!m.versions.empty()) j["versions"] = m.versions;
  j["platform"] = m.platform;
  j["inputs"] = m.inputs;
  j["outputs"] = m.outputs;
}

void from_json(const Json& j, KServeModelMetadata& m) {
  fields::require_object(j, "model metadata");
  m.name = required<std::string>(j, "name");
  m.versions = value_or(j, "versions", std::vector<std::string>{});
  m.platform = required<std::string>(j, "platform");
  m.inputs = read_list<KServeTensorMetadata>(j, "inputs");
  m.outputs = read_list<KServeTensorMetadata>(j, "outputs");
}

void to_json(Json& j, const KServeModelReady& r) { j = Json{{"name", r.name}, {"ready", r.ready}}; }

void from_json(const Json& j, KServeModelReady& r) {
  fields::require_object(j, "model readiness");
  r.name = required<std::string>(j, "name");
  r.ready = required<bool>(j, "ready");
}

void to_json(Json& j, const KServeTensor& t) {
  j = Json{{"name", t.name}, {"shape", t.shape}, {"datatype", t.datatype}};
  put_parameters(j, t.parameters);
  if (!t.parameters.contains(kBinaryDataSize)) j["data"] = write_data(t);
}

void from_json(const Json& j, KServeTensor& t) {
  fields::require_object(j, "a tensor");
  t = KServeTensor{};
  t.name = required<std::string>(j, "name");
  t.shape = read_shape(j, false);
  t.datatype = read_datatype(j);
  t.parameters = read_parameters(j);
  if (!t.parameters.contains(kBinaryDataSize)) {
    read_data(j, t);
    return;
  }
  (void)kserve_binary_size(t);  // checks it
  if (j.contains("data")) throw FormatError("\"data\" must be absent with the parameter \"binary_data_size\": the data follows the JSON");
}

void to_json(Json& j, const KServeRequestedOutput& o) {
  j = Json{{"name", o.name}};
  put_parameters(j, o.parameters);
}

void from_json(const Json& j, KServeRequestedOutput& o) {
  fields::require_object(j, "a requested output");
  o.name = required<std::string>(j, "name");
  o.parameters = read_parameters(j);
}

void to_json(Json& j, const KServeInferRequest& r) {
  j = Json::object();
  if (r.id) j["id"] = *r.id;
  put_parameters(j, r.parameters);
  j["inputs"] = r.inputs;
  if (r.outputs) j["outputs"] = *r.outputs;
}

void from_json(const Json& j, KServeInferRequest& r) {
  fields::require_object(j, "an inference request");
  r = KServeInferRequest{};
  r.id = optional<std::string>(j, "id");
  r.parameters = read_parameters(j);
  r.inputs = read_list<KServeTensor>(j, "inputs");
  if (j.contains("outputs") && !j["outputs"].is_null()) r.outputs = read_list<KServeRequestedOutput>(j, "outputs");
}

void to_json(Json& j, const KServeInferResponse& r) {
  j = Json{{"model_name", r.model_name}};
  if (r.model_version) j["model_version"] = *r.model_version;
  if (r.id) j["id"] = *r.id;
  put_parameters(j, r.parameters);
  j["outputs"] = r.outputs;
}

void from_json(const Json& j, KServeInferResponse& r) {
  fields::require_object(j, "an inference response");
  r = KServeInferResponse{};
  r.model_name = required<std::string>(j, "model_name");
  r.model_version = optional<std::string>(j, "model_version");
  r.id = optional<std::string>(j, "id");
  r.parameters = read_parameters(j);
  r.outputs = read_list<KServeTensor>(j, "outputs");
}

}  // namespace lookout::wire
