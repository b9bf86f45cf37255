// KServe V2 / Open Inference Protocol over REST, for KServe and Triton
// tooling (tritonclient.http, KServe's InferenceRESTClient, curl):
//   GET  /v2                                         server metadata
//   GET  /v2/models/{name}[/versions/{v}]            model metadata
//   GET  /v2/models/{name}[/versions/{v}]/ready      200 ready, 503 not
//   POST /v2/models/{name}[/versions/{v}]/infer      inference
// (/v2/health/live and /ready are server.cc's.) Inference takes one input,
// named as the model's: UINT8 [1,H,W,3], the RGB image as the model sees it
// (no decode, no resize), or BYTES [1], a JPEG or PNG in base64 (JSON
// strings cannot hold raw bytes). It answers the detection post-process's
// four outputs as the model wrote them (FP32, unfiltered), and with the
// request parameter "lookout_detections": true (or that output requested)
// a fifth, BYTES [N]: each detection above "threshold" (default 0.5) as
// the JSON text of /api/detect's detection. Requests run on the model's
// Pool like any other image. Triton's binary tensor data extension: the
// input's bytes may follow the JSON (Inference-Header-Content-Length, the
// input's "binary_data_size"), raw RGB for UINT8 or one 4-byte
// little-endian length and the JPEG/PNG for BYTES; outputs asked for with
// "binary_data" (or all, with the request's "binary_data_output") come back
// the same way.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/pool.h"
#include "wire/kserve.h"

namespace lookout::server {

// One model as the protocol shows it.
struct KServeModel {
  wire::KServeModelMetadata metadata;  // metadata.name: the name in the URL
  Pool* pool = nullptr;
};

// The metadata of a detection model: its input as UINT8 [1,H,W,3], its
// four post-process outputs as FP32, named as in the model's graph (or
// detection_boxes, detection_classes, detection_scores, num_detections
// when the graph has no distinct names); version "1", platform "tflite".
wire::KServeModelMetadata kserve_metadata(const std::string& name, const engine::Model& model);

// What the routes need from the server: the models by name (nullptr when
// unknown), all their names (for the 404's message), the API key check
// (throws HttpError), and whether the server takes work (false while it
// drains).
struct KServeRoutes {
  std::function<const KServeModel*(const std::string& name)> find;
  std::function<std::vector<std::string>()> names;
  std::function<void(const httplib::Request&)> admit;
  std::function<bool()> serving;
  // Told how many images an inference request carries once it is read (the
  // access log's images=).
  std::function<void(int images)> count_images;
};

void install_kserve(httplib::Server& svr, KServeRoutes routes);

// The /metrics route label of a KServe path ("/v2/models/{name}/infer"),
// or nullptr when the path is none of them.
const char* kserve_route_label(const std::string& path);

// An output to answer, and whether its data follows the JSON.
struct KServeOutput {
  std::string name;
  bool binary = false;
};

// An inference request read and checked against the model, ready for its Pool.
struct KServeInfer {
  wire::KServeInferRequest request;
  DetectJob::Input input = DetectJob::Input::encoded;
  std::vector<uint8_t> bytes;         // the RGB input or the encoded image
  detect::Filter filter;              // for the labelled detections
  std::vector<KServeOutput> outputs;  // in the order to answer them
};

inline constexpr const char* kDetectionsOutput = "lookout_detections";

// `json_length`: the Inference-Header-Content-Length header ("" when
// absent: the body is all JSON). Throws HttpError 400 naming what is
// wrong: JSON, field, shape, datatype, element count, value range, input or
// output name, parameter, binary data size.
KServeInfer parse_infer(const std::string& body, const std::string& json_length, const KServeModel& model);

// The response to `infer` from the model's raw outputs and the labelled,
// filtered detections of the same run.
wire::KServeInferResponse infer_response(const KServeInfer& infer, const KServeModel& model,
                                         const detect::RawOutputs& raw, const wire::ApiImage& image);

// The response body: its JSON, then the binary outputs' bytes in order.
struct KServeBody {
  std::string text;
  size_t json_length = 0;
  bool binary = false;  // some output's data follows the JSON (send Inference-Header-Content-Length)
};
KServeBody encode_response(wire::KServeInferResponse response, const KServeInfer& infer);

}  // namespace lookout::server
