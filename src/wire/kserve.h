// The KServe V2 / Open Inference Protocol's REST bodies (the protocol of
// KServe, Triton and their clients): server and model metadata, model
// readiness, the inference request and its response. Tensors are typed by
// the protocol's datatype names; their data is read flat in row-major order
// (nested arrays are flattened, as the protocol allows) and its element
// count and value range are checked against the shape and datatype.
// Errors are FormatError naming the field ("inputs[0].data[7]").
//
// Triton's binary tensor data extension: a tensor whose parameters hold
// "binary_data_size" has no "data" in the JSON; its bytes follow the JSON
// in the HTTP body (the server reads and writes them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wire/detection.h"

namespace lookout::wire {

// GET /v2
struct KServeServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
  bool operator==(const KServeServerMetadata&) const = default;
};

// A tensor's name, datatype and shape (-1: any size) in model metadata.
struct KServeTensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  bool operator==(const KServeTensorMetadata&) const = default;
};

// GET /v2/models/{name}[/versions/{v}]
struct KServeModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<KServeTensorMetadata> inputs, outputs;
  bool operator==(const KServeModelMetadata&) const = default;
};

// GET /v2/models/{name}/ready (the HTTP status says it too: 200 or 503)
struct KServeModelReady {
  std::string name;
  bool ready = false;
  bool operator==(const KServeModelReady&) const = default;
};

// A tensor with its data: an input of a request or an output of a response.
// `parameters` is an object of string, number or boolean values; with
// "binary_data_size" in it, the data travels after the JSON and both data
// vectors stay empty here.
struct KServeTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string datatype;
  Json parameters = Json::object();
  std::vector<double> numbers;       // every datatype but BYTES; BOOL as 0 and 1
  std::vector<std::string> strings;  // BYTES
  bool operator==(const KServeTensor&) const = default;
};

struct KServeRequestedOutput {
  std::string name;
  Json parameters = Json::object();
  bool operator==(const KServeRequestedOutput&) const = default;
};

// POST /v2/models/{name}[/versions/{v}]/infer
struct KServeInferRequest {
  std::optional<std::string> id;
  Json parameters = Json::object();
  std::vector<KServeTensor> inputs;
  std::optional<std::vector<KServeRequestedOutput>> outputs;  // absent: all of them
  bool operator==(const KServeInferRequest&) const = default;
};

struct KServeInferResponse {
  std::string model_name;
  std::optional<std::string> model_version;
  std::optional<std::string> id;
  Json parameters = Json::object();  // written only when not empty
  std::vector<KServeTensor> outputs;
  bool operator==(const KServeInferResponse&) const = default;
};

// The protocol's datatypes: BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32,
// FP64, BYTES.
bool is_kserve_datatype(const std::string& datatype);
// The number of elements a shape holds; FormatError for a negative
// dimension or a count past 2^40.
int64_t kserve_elements(const std::vector<int64_t>& shape);
// The tensor's "binary_data_size" parameter (binary tensor data extension),
// or nullopt when its data is in the JSON.
std::optional<int64_t> kserve_binary_size(const KServeTensor& t);

void to_json(Json& j, const KServeServerMetadata& m);
void from_json(const Json& j, KServeServerMetadata& m);
void to_json(Json& j, const KServeTensorMetadata& t);
void from_json(const Json& j, KServeTensorMetadata& t);
void to_json(Json& j, const KServeModelMetadata& m);
void from_json(const Json& j, KServeModelMetadata& m);
void to_json(Json& j, const KServeModelReady& r);
void from_json(const Json& j, KServeModelReady& r);
void to_json(Json& j, const KServeTensor& t);
void from_json(const Json& j, KServeTensor& t);
void to_json(Json& j, const KServeRequestedOutput& o);
void from_json(const Json& j, KServeRequestedOutput& o);
void to_json(Json& j, const KServeInferRequest& r);
void from_json(const Json& j, KServeInferRequest& r);
void to_json(Json& j, const KServeInferResponse& r);
void from_json(const Json& j, KServeInferResponse& r);

}  // namespace lookout::wire
