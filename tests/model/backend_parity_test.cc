// reference vs xnnpack on the full model for every photo of data/small: the
// uint8 tensors feeding the post-process op differ by at most 1 LSB and the
// detections match.
#include <gtest/gtest.h>

#include <cstring>

#include "detection_match.h"
#include "engine/engine.h"
#include "image/image.h"
#include "model_paths.h"

namespace lookout::engine {
namespace {

using namespace lookout::testing;

const Operator& postprocess_op(const Graph& g) {
  for (const Operator& op : g.ops)
    if (op.kind == OpKind::detection_postprocess) return op;
  throw std::runtime_error("no post-process op");
}

class BackendParity : public ::testing::TestWithParam<std::filesystem::path> {
 protected:
  static void SetUpTestSuite() { model_ = Model::from_file(model_path()); }
  static std::shared_ptr<const Model> model_;
};
std::shared_ptr<const Model> BackendParity::model_;

TEST_P(BackendParity, PostProcessInputsWithinOneLsbAndSameDetections) {
  const auto bytes = read_bytes(GetParam());
  const image::Image img = image::resize_bilinear(image::decode_image(bytes, 300, 300), 300, 300);

  Engine ref(model_, {Backend::reference, 1});
  Engine xnn(model_, {Backend::xnnpack, 1});
  for (Engine* e : {&ref, &xnn}) {
    ASSERT_EQ(e->input().size(), img.rgb.size());
    std::memcpy(e->input().data(), img.rgb.data(), img.rgb.size());
    e->invoke();
  }
  const Operator& pp = postprocess_op(model_->graph());
  for (size_t k = 0; k < 2; ++k) {  // box encodings, class scores
    const auto a = ref.tensor_data(pp.inputs[k]);
    const auto b = xnn.tensor_data(pp.inputs[k]);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    int max_diff = 0;
    size_t differing = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const int d = std::abs(int{a[i]} - int{b[i]});
      max_diff = std::max(max_diff, d);
      differing += d != 0;
    }
    EXPECT_LE(max_diff, 1) << "post-process input " << k << ": " << differing << " of " << a.size() << " bytes differ";
    RecordProperty("input" + std::to_string(k) + "_differing_bytes", static_cast<int>(differing));
  }
  const std::string m = mismatch(ref.detections(), xnn.detections(), {0.3f, 1.5f / 256.0f, 0.01f}, "reference", "xnnpack");
  EXPECT_TRUE(m.empty()) << m;
}

std::vector<std::filesystem::path> parity_photos() {
  auto all = small_photos();
  if (sanitized() && all.size() > 3) all.resize(3);  // the reference kernels are slow under ASan
  return all;
}

INSTANTIATE_TEST_SUITE_P(SmallCollection, BackendParity, ::testing::ValuesIn(parity_photos()),
                         [](const auto& info) {
                           std::string n = info.param.stem().string();
                           for (char& c : n) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace lookout::engine
