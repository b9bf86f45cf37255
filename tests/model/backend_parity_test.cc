// reference vs xnnpack on the full model for every photo of data/small, at
// every ISA level of our kernels the CPU has (the others reported skipped)
// and 1 and 2 threads: the tensors feeding the post-process op and the graph
// outputs are byte-identical.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "engine/isa_levels.h"
#include "engine/engine.h"
#include "engine/xnnpack_runtime.h"
#include "image/image.h"
#include "model_paths.h"

namespace lookout::engine {
namespace {

using namespace lookout::testing;
using testing::runnable_isa_levels;

const Operator& postprocess_op(const Graph& g) {
  for (const Operator& op : g.ops)
    if (op.kind == OpKind::detection_postprocess) return op;
  throw std::runtime_error("no post-process op");
}

// The planner fuses SSD MobileNet V2's inverted-residual blocks (fused_block.h):
// the 16 with an expand, but for the one whose expanded tensor the box
// predictor also reads (layer 15's expansion output), 10 of the 15 with
// their residual ADD.
TEST(FusedBlocks, FormedOnTheRealModel) {
  const std::vector<Isa> levels = runnable_isa_levels({Isa::avx2, Isa::avxvnni, Isa::avx512vnni});
  if (levels.empty()) GTEST_SKIP() << "the CPU has none of avx2, avxvnni, avx512vnni";
  const auto model = Model::from_file(model_path());
  for (Isa isa : levels) {
    SCOPED_TRACE(isa_name(isa));
    size_t blocks = 0, with_add = 0;
    for (const XnnpackStage& s : plan_xnnpack_stages(model->graph(), isa)) {
      blocks += s.block ? 1 : 0;
      with_add += s.block && s.ops.size() == 4 ? 1 : 0;
    }
    EXPECT_EQ(blocks, 15u);
    EXPECT_EQ(with_add, 10u);
  }
}

// At avx2 the pointwise kernel takes its bytes form for most of the real
// model's filters (pointwise_conv.h) and its words form for the rest (the
// parity test below runs both); the profile names each step's form.
TEST(PointwiseForms, BothTakenAndNamedOnTheRealModel) {
  if (runnable_isa_levels({Isa::avx2}).empty()) GTEST_SKIP() << "the CPU lacks avx2";
  const auto model = Model::from_file(model_path());
  Options options{Backend::xnnpack, 1};
  options.isa = Isa::avx2;
  options.profile = true;
  Engine engine(model, options);
  engine.invoke();
  std::map<std::string, int> kernels;
  for (const OpProfile& p : engine.profile()) ++kernels[p.kernel];
  EXPECT_GE(kernels["avx2 bytes"], 15) << "1x1 and 3x3 convolutions on the bytes form";
  EXPECT_GE(kernels["avx2 words"], 1);
  EXPECT_GE(kernels["avx2 bytes block"], 1);
  EXPECT_GE(kernels["avx2 words block"], 1);
  EXPECT_EQ(kernels["avx2"], 2) << "the two depthwise convolutions outside blocks: one form";
}

class BackendParity : public ::testing::TestWithParam<std::filesystem::path> {
 protected:
  static void SetUpTestSuite() { model_ = Model::from_file(model_path()); }
  static std::shared_ptr<const Model> model_;
};
std::shared_ptr<const Model> BackendParity::model_;

TEST_P(BackendParity, EveryIsaLevelAndThreadCountIdenticalToReference) {
  const auto bytes = read_bytes(GetParam());
  const image::Image img = image::resize_bilinear(image::decode_image(bytes, 300, 300), 300, 300);

  Engine ref(model_, {Backend::reference, 1});
  ASSERT_EQ(ref.input().size(), img.rgb.size());
  std::memcpy(ref.input().data(), img.rgb.data(), img.rgb.size());
  ref.invoke();
  const Operator& pp = postprocess_op(model_->graph());
  for (Isa isa : runnable_isa_levels()) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string("ISA level ") + isa_name(isa) + ", threads " + std::to_string(threads));
      Options options{Backend::xnnpack, threads};
      options.isa = isa;
      Engine fast(model_, options);
      std::memcpy(fast.input().data(), img.rgb.data(), img.rgb.size());
      fast.invoke();
      for (size_t k = 0; k < 2; ++k) {  // box encodings, class scores
        const auto a = ref.tensor_data(pp.inputs[k]);
        const auto b = fast.tensor_data(pp.inputs[k]);
        ASSERT_EQ(a.size(), b.size());
        ASSERT_FALSE(a.empty());
        size_t differing = 0;
        for (size_t i = 0; i < a.size(); ++i) differing += a[i] != b[i];
        EXPECT_EQ(differing, 0u) << "post-process input " << k << ": " << differing << " of " << a.size()
                                 << " bytes differ";
      }
      for (size_t k = 0; k < model_->graph().outputs.size(); ++k) {
        const auto a = ref.output(k);
        const auto b = fast.output(k);
        EXPECT_TRUE(a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0) << "graph output " << k;
      }
    }
  }
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
