// Lookout against TensorFlow Lite's own runtime (its WebAssembly build, run
// by tests/oracle/oracle.js in the oracle_dump test) on identical 300x300x3
// input tensors for every photo of data/small.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "detection_match.h"
#include "engine/engine.h"
#include "model_paths.h"

namespace lookout::engine {
namespace {

using namespace lookout::testing;

// oracle.jsonl: one line per photo, keyed by the photo's stem.
std::map<std::string, nlohmann::json> oracle_results() {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(oracle_dir() / "oracle.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    out[std::filesystem::path(j.at("file").get<std::string>()).stem().string()] = j;
  }
  return out;
}

detect::SsdOutputs from_oracle(const nlohmann::json& j) {
  detect::SsdOutputs d;
  d.count = static_cast<int>(j.at("count").get<double>());
  for (int i = 0; i < d.count; ++i) {
    const auto& b = j.at("boxes").at(static_cast<size_t>(i));
    d.boxes.push_back({b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()});
    d.classes.push_back(static_cast<int>(j.at("classes").at(static_cast<size_t>(i)).get<double>()));
    d.scores.push_back(j.at("scores").at(static_cast<size_t>(i)).get<float>());
  }
  return d;
}

class OracleParity : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::from_file(model_path());
    oracle_ = oracle_results();
  }
  static std::shared_ptr<const Model> model_;
  static std::map<std::string, nlohmann::json> oracle_;
};
std::shared_ptr<const Model> OracleParity::model_;
std::map<std::string, nlohmann::json> OracleParity::oracle_;

TEST_P(OracleParity, SameDetectionsAndPostProcessInputs) {
  const std::string stem = GetParam();
  ASSERT_TRUE(oracle_.count(stem)) << "no oracle result for " << stem << " in " << oracle_dir()
                                   << " (the oracle_dump test writes it)";
  const auto input = read_bytes(oracle_dir() / (stem + ".rgb"));
  const detect::SsdOutputs expected = from_oracle(oracle_.at(stem));
  EXPECT_GT(expected.count, 0);

  const Backend backends[] = {Backend::xnnpack, Backend::reference};
  for (Backend backend : backends) {
    if (backend == Backend::reference && sanitized()) continue;  // covered by BackendParity there
    SCOPED_TRACE(backend_name(backend));
    Engine eng(model_, {backend, 1});
    ASSERT_EQ(eng.input().size(), input.size());
    std::memcpy(eng.input().data(), input.data(), input.size());
    eng.invoke();
    const std::string m = mismatch(detect::read_ssd_outputs(eng), expected, {}, "lookout", "tflite");
    EXPECT_TRUE(m.empty()) << m;

    // The post-process op's inputs, as TFLite computed them.
    const Graph& g = model_->graph();
    for (const Operator& op : g.ops) {
      if (op.kind != OpKind::detection_postprocess) continue;
      for (size_t k = 0; k < 2; ++k) {
        const Tensor& t = g.tensors[static_cast<size_t>(op.inputs[k])];
        const auto theirs = read_bytes(oracle_dir() / (stem + "." + t.name + ".u8"));
        const auto ours = eng.tensor_data(op.inputs[k]);
        ASSERT_EQ(theirs.size(), ours.size()) << t.name;
        int max_diff = 0;
        for (size_t i = 0; i < ours.size(); ++i) max_diff = std::max(max_diff, std::abs(int{ours[i]} - int{theirs[i]}));
        EXPECT_LE(max_diff, 1) << t.name;
      }
    }
  }
}

std::vector<std::string> photo_stems() {
  std::vector<std::string> out;
  for (const auto& p : small_photos()) out.push_back(p.stem().string());
  return out;
}

INSTANTIATE_TEST_SUITE_P(SmallCollection, OracleParity, ::testing::ValuesIn(photo_stems()), [](const auto& info) {
  std::string n = info.param;
  for (char& c : n) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

}  // namespace
}  // namespace lookout::engine
