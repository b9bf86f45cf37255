// Writes the seed corpora of the fuzz targets from real inputs:
//   OUT/model/    the real model, and tiny models (logistic, reshape, a float
//                 SSD with the detection post-process) built as the detector
//                 tests build them
//   OUT/image/    the small photos of data/small as they are, every photo
//                 re-encoded at 96 px (JPEG), tagged with each EXIF
//                 orientation in both byte orders, and PNGs of every colour type
//   OUT/request/  HTTP requests to /api/detect and /v1/vision/* as
//                 curl and httplib send them (JSON base64, multipart, raw
//                 body, query strings, chunked), with a real photo inside;
//                 and to the KServe V2 routes (metadata, ready, inference
//                 with a BYTES image or a small UINT8 tensor, flat, nested
//                 or binary)
// Usage: make_seeds REPO_ROOT OUT
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "detect/tiny_model.h"
#include "image/exif_fixture.h"
#include "image/image.h"
#include "image/png_fixture.h"

namespace fs = std::filesystem;
using lookout::detect::testing::TinyModel;

namespace {

using lookout::image::testing::read_bytes;

std::string base64(const std::vector<uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

template <class Bytes>
void write_bytes(const fs::path& p, const Bytes& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

void model_seeds(const fs::path& root, const fs::path& out) {
  const fs::path real = root / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite";
  write_bytes(out / "ssd_mobilenet_v2_quant.tflite", read_bytes(real));
  {
    TinyModel m;  // gray [1,2,2,1] -> logistic
    m.inputs = {m.tensor({1, 2, 2, 1})};
    m.outputs = {m.tensor({1, 2, 2, 1})};
    m.op(TinyModel::kLogistic, m.inputs, m.outputs);
    write_bytes(out / "logistic.tflite", m.build());
  }
  {
    TinyModel m;  // reshape then logistic, RGB input
    const int32_t input = m.tensor({1, 2, 2, 3});
    const int32_t flat = m.tensor({1, 4, 3});
    m.inputs = {input};
    m.outputs = {m.tensor({1, 4, 3})};
    m.op(TinyModel::kReshape, {input}, {flat});
    m.op(TinyModel::kLogistic, {flat}, m.outputs);
    write_bytes(out / "reshape_logistic.tflite", m.build());
  }
  {
    TinyModel m;  // a float SSD in miniature (as tests/detect/detector_test.cc)
    const int32_t input = m.tensor({1, 1, 2, 3});
    const int32_t scores = m.tensor({1, 2, 3});
    const int32_t encodings = m.tensor({1, 2, 4}, TinyModel::kFloat32, std::vector<float>(8, 0.0f));
    const int32_t anchors =
        m.tensor({2, 4}, TinyModel::kFloat32, {0.25f, 0.125f, 0.5f, 0.25f, 0.8f, 0.75f, 0.6f, 0.5f});
    m.inputs = {input};
    m.outputs = {m.tensor({1, 2, 4}), m.tensor({1, 2}), m.tensor({1, 2}), m.tensor({1})};
    m.op(TinyModel::kReshape, {input}, {scores});
    m.op(TinyModel::kCustom, {encodings, scores, anchors}, m.outputs,
         lookout::detect::testing::postprocess_options(2, 2));
    write_bytes(out / "float_ssd.tflite", m.build());
  }
}

void image_seeds(const fs::path& root, const fs::path& out) {
  namespace img = lookout::image;
  int n = 0;
  for (const auto& e : fs::directory_iterator(root / "data" / "small")) {
    if (e.path().extension() != ".jpg") continue;
    const std::vector<uint8_t> bytes = read_bytes(e.path());
    const std::string stem = e.path().stem().string();
    if (bytes.size() <= 50'000) write_bytes(out / (stem + ".jpg"), bytes);  // larger ones slow every mutation
    const img::Image full = img::decode_image(bytes, 96, 96);
    const int w = 96, h = std::max(1, full.height * 96 / std::max(1, full.width));
    const img::Image small = img::resize_bilinear(full, w, h);
    write_bytes(out / (stem + "_96.jpg"), img::encode_jpeg(small, 85));
    if (n < 8) {  // EXIF orientations 1-8, alternating byte order
      const int orientation = n + 1;
      write_bytes(out / (stem + "_exif" + std::to_string(orientation) + ".jpg"),
                  img::testing::oriented_jpeg(small, orientation, n % 2 == 1));
    }
    ++n;
  }
  // PNG: gray, RGB, indexed, gray+alpha, RGBA at 8 bits; RGB at 16; interlaced RGB.
  struct Kind { uint8_t color_type, bit_depth, channels; bool interlaced; };
  const Kind kinds[] = {{SPNG_COLOR_TYPE_GRAYSCALE, 8, 1, false}, {SPNG_COLOR_TYPE_TRUECOLOR, 8, 3, false},
                        {SPNG_COLOR_TYPE_INDEXED, 8, 1, false},   {SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8, 2, false},
                        {SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, 4, false}, {SPNG_COLOR_TYPE_TRUECOLOR, 16, 3, false},
                        {SPNG_COLOR_TYPE_TRUECOLOR, 8, 3, true}};
  int i = 0;
  for (const Kind& k : kinds) {
    img::testing::PngSpec spec;
    spec.width = 12;
    spec.height = 8;
    spec.color_type = k.color_type;
    spec.bit_depth = k.bit_depth;
    spec.interlaced = k.interlaced;
    if (k.color_type == SPNG_COLOR_TYPE_INDEXED)
      for (int c = 0; c < 4; ++c) spec.palette.push_back({uint8_t(c * 60), uint8_t(255 - c * 60), uint8_t(c * 30)});
    if (i == 1) spec.exif = img::testing::exif_tiff(6, true);
    std::vector<uint8_t> samples(size_t{12} * 8 * k.channels * (k.bit_depth / 8));
    for (size_t s = 0; s < samples.size(); ++s)
      samples[s] = k.color_type == SPNG_COLOR_TYPE_INDEXED ? uint8_t(s % 4) : uint8_t(s * 37 + 11);
    write_bytes(out / ("png_" + std::to_string(i++) + ".png"), img::testing::encode_png(spec, samples));
  }
}

// KServe V2 requests as tritonclient.http and curl send them.
template <class Post>
void kserve_seeds(const fs::path& out, const Post& post, const std::string& host, const std::string& b64) {
  const std::string model = "/v2/models/mobilenet_ssd_v2_coco_quant_postprocess";
  const std::string input = R"("name":"normalized_input_image_tensor",)";
  write_bytes(out / "kserve_bytes.http",
              post(model + "/infer", "application/json",
                   R"({"id":"1","inputs":[{)" + input + R"("shape":[1],"datatype":"BYTES","data":[")" + b64 +
                       R"("]}],"parameters":{"lookout_detections":true,"threshold":0.4}})"));
  write_bytes(out / "kserve_tensor_outputs.http",
              post(model + "/versions/1/infer", "application/json",
                   R"({"inputs":[{)" + input + R"("shape":[1,1,2,3],"datatype":"UINT8","data":[0,1,2,253,254,255],)" +
                       R"("parameters":{"binary_data":false}}],"outputs":[{"name":"TFLite_Detection_PostProcess:2"},)" +
                       R"({"name":"lookout_detections","parameters":{"binary_data":true}}]})"));
  write_bytes(out / "kserve_tensor_nested.http",
              post(model + "/infer", "application/json",
                   R"({"inputs":[{)" + input + R"("shape":[1,2,1,3],"datatype":"UINT8","data":[[[[1,2,3]],[[4,5,6]]]]}]})"));
  write_bytes(out / "kserve_bool_fp32.http",
              post(model + "/infer", "application/json",
                   R"({"inputs":[{"name":"a","shape":[2],"datatype":"BOOL","data":[true,false]},)"
                   R"({"name":"b","shape":[1],"datatype":"FP32","data":[1.5e-3]}]})"));
  const std::pair<const char*, std::string> gets[] = {{"server_metadata", "/v2"},
                                                      {"model_metadata", model},
                                                      {"ready", model + "/versions/1/ready"},
                                                      {"infer", "/v2/models/other/infer"}};
  for (const auto& [name, path] : gets)
    write_bytes(out / ("kserve_get_" + std::string(name) + ".http"), "GET " + path + " HTTP/1.1\r\n" + host + "\r\n");
  write_bytes(out / "kserve_post_metadata.http", post(model, "application/json", "{}"));
  // The binary tensor data extension: JSON, then a length-prefixed BYTES element.
  const std::string json = R"({"inputs":[{)" + input +
                           R"("shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":10}}],)"
                           R"("parameters":{"binary_data_output":true}})";
  const std::string element = std::string("\x06\0\0\0", 4) + "\xff\xd8\xff\xe0" "ab";
  write_bytes(out / "kserve_binary.http",
              post(model + "/infer", "application/octet-stream", json + element,
                   "Inference-Header-Content-Length: " + std::to_string(json.size()) + "\r\n"));
}

void request_seeds(const fs::path& root, const fs::path& out) {
  const std::vector<uint8_t> photo = read_bytes(root / "data" / "small" / "libdlib19.1__frame_000100.jpg");
  const std::string jpeg(photo.begin(), photo.end());
  const std::string host = "Host: 127.0.0.1:5029\r\n";
  auto post = [&](const std::string& target, const std::string& type, const std::string& body,
                  const std::string& extra = "") {
    return "POST " + target + " HTTP/1.1\r\n" + host + "User-Agent: curl/7.88.1\r\nAccept: */*\r\n" + extra +
           "Content-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::string b64 = base64(photo);
  write_bytes(out / "json_one.http",
              post("/api/detect", "application/json",
                   R"({"images":[{"id":"frame.jpg","data":")" + b64 + R"("}],"threshold":0.5})"));
  write_bytes(out / "json_two_no_id.http",
              post("/api/detect", "application/json; charset=utf-8",
                   R"({"images":[{"data":")" + b64 + R"("},{"id":7,"data":"AAAA"}]})"));
  write_bytes(out / "raw_query.http", post("/api/detect?id=frame.jpg&threshold=0.3", "image/jpeg", jpeg,
                                           "Authorization: Bearer key\r\n"));
  write_bytes(out / "raw_png_type.http", post("/api/detect?threshold=1", "image/png", jpeg));
  const std::string boundary = "------------------------a1b2c3d4e5f60718";
  auto part = [&](const std::string& name, const std::string& filename, const std::string& type,
                  const std::string& data) {
    std::string p = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) p += "; filename=\"" + filename + "\"";
    p += "\r\n";
    if (!type.empty()) p += "Content-Type: " + type + "\r\n";
    return p + "\r\n" + data + "\r\n";
  };
  const std::string multipart_type = "multipart/form-data; boundary=" + boundary;
  write_bytes(out / "multipart_two.http",
              post("/api/detect", multipart_type,
                   part("a", "frame.jpg", "image/jpeg", jpeg) + part("b", "b.jpg", "image/jpeg", jpeg.substr(0, 900)) +
                       part("threshold", "", "", "0.5") + "--" + boundary + "--\r\n"));
  write_bytes(out / "deepstack.http",
              post("/v1/vision/detection?min_confidence=0.2", multipart_type,
                   part("image", "frame.jpg", "image/jpeg", jpeg) + part("min_confidence", "", "", "0.6") + "--" +
                       boundary + "--\r\n"));
  // As deepstack-python, Home Assistant and Frigate send it: the key as a form
  // field, the image part with neither filename nor Content-Type.
  write_bytes(out / "deepstack_api_key_field.http",
              post("/v1/vision/detection", multipart_type,
                   part("image", "", "", jpeg) + part("api_key", "", "", "fuzz-key") +
                       part("min_confidence", "", "", "") + "--" + boundary + "--\r\n"));
  write_bytes(out / "deepstack_custom_other_field.http",
              post("/v1/vision/custom/second", multipart_type,
                   part("upload", "frame.jpg", "image/jpeg", jpeg) + "--" + boundary + "--\r\n",
                   "X-API-Key: fuzz-key\r\n"));
  write_bytes(out / "deepstack_custom_list.http",
              post("/v1/vision/custom/list", "application/x-www-form-urlencoded", "api_key=fuzz%2Dkey&x=1"));
  write_bytes(out / "deepstack_empty_image.http",
              post("/v1/vision/detection", multipart_type, part("image", "", "", "") + "--" + boundary + "--\r\n"));
  // Chunked, as a streaming client sends it.
  std::string chunked = "POST /api/detect?id=c.jpg HTTP/1.1\r\n" + host +
                        "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < jpeg.size(); at += 1000) {
    const std::string piece = jpeg.substr(at, 1000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  write_bytes(out / "chunked.http", chunked);
  write_bytes(out / "wrong_type.http", post("/api/detect", "text/plain", "hello"));
  write_bytes(out / "get.http", "GET /api/detect?x=%41%zz&y HTTP/1.1\r\n" + host + "Range: bytes=0-1\r\n\r\n");
  kserve_seeds(out, post, host, b64);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds REPO_ROOT OUT\n");
    return 2;
  }
  const fs::path root = argv[1], out = argv[2];
  try {
    for (const char* d : {"model", "image", "request"}) fs::create_directories(out / d);
    model_seeds(root, out / "model");
    image_seeds(root, out / "image");
    request_seeds(root, out / "request");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
