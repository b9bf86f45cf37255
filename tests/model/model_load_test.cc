// The model reader on the real model and on damaged or hostile copies of it.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "detect/ssd_outputs.h"
#include "engine/engine.h"
#include "model_paths.h"

namespace lookout::engine {
namespace {

using lookout::testing::model_path;
using lookout::testing::read_bytes;

TEST(ModelLoad, RealModelHasTheDocumentedGraph) {
  auto model = Model::from_file(model_path());
  const Graph& g = model->graph();
  EXPECT_EQ(g.tensors.size(), 261u);
  EXPECT_EQ(g.ops.size(), 99u);
  std::map<OpKind, int> counts;
  for (const Operator& op : g.ops) counts[op.kind]++;
  EXPECT_EQ(counts[OpKind::conv_2d], 55);
  EXPECT_EQ(counts[OpKind::depthwise_conv_2d], 17);
  EXPECT_EQ(counts[OpKind::reshape], 13);
  EXPECT_EQ(counts[OpKind::add], 10);
  EXPECT_EQ(counts[OpKind::concatenation], 2);
  EXPECT_EQ(counts[OpKind::logistic], 1);
  EXPECT_EQ(counts[OpKind::detection_postprocess], 1);

  ASSERT_EQ(g.inputs.size(), 1u);
  const Tensor& in = g.tensors[static_cast<size_t>(g.inputs[0])];
  EXPECT_EQ(in.type, DType::uint8);
  EXPECT_EQ(in.shape, (std::vector<int32_t>{1, 300, 300, 3}));
  EXPECT_FLOAT_EQ(in.quant.scale, 1.0f / 128.0f);
  EXPECT_EQ(in.quant.zero_point, 128);

  const auto& pp = std::get<PostProcessOptions>(g.ops.back().options);
  EXPECT_EQ(pp.max_detections, 20);
  EXPECT_EQ(pp.max_classes_per_detection, 1);
  EXPECT_FALSE(pp.use_regular_nms);
  EXPECT_EQ(pp.num_classes, 90);
  EXPECT_FLOAT_EQ(pp.nms_iou_threshold, 0.6f);
  EXPECT_FLOAT_EQ(pp.y_scale, 10.0f);
  EXPECT_FLOAT_EQ(pp.h_scale, 5.0f);
}

TEST(ModelLoad, MissingFileNamesThePath) {
  try {
    Model::from_file("/nonexistent/model.tflite");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.tflite"), std::string::npos) << e.what();
  }
}

TEST(ModelLoad, NotATfliteFile) {
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};
  try {
    Model::from_bytes(jpeg);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TFL3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Model::from_bytes({}), Error);
}

// A model that loads must also run: load, then invoke once on both backends.
void load_and_maybe_run(std::vector<uint8_t> bytes, bool run_reference) {
  std::shared_ptr<const Model> model;
  try {
    model = Model::from_bytes(std::move(bytes));
  } catch (const Error& e) {
    EXPECT_GT(std::string(e.what()).size(), 10u);  // refused, with a message
    return;
  }
  for (Backend b : {Backend::xnnpack, Backend::reference}) {
    if (b == Backend::reference && !run_reference) continue;
    try {
      Engine eng(model, {b, 1});
      std::fill(eng.input().begin(), eng.input().end(), uint8_t{77});
      eng.invoke();
      (void)detect::read_ssd_outputs(eng);
    } catch (const Error&) {
      // refusing at engine creation is fine too; crashing is not
    }
  }
}

TEST(ModelLoad, TruncatedAtManyOffsetsIsRefused) {
  const std::vector<uint8_t> bytes = read_bytes(model_path());
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 512; n += 7) cuts.push_back(n);            // header and root tables
  for (size_t i = 1; i < 200; ++i) cuts.push_back(bytes.size() * i / 200);  // everywhere
  for (size_t n = 1; n <= 64; ++n) cuts.push_back(bytes.size() - n);          // the tail
  for (size_t cut : cuts) {
    SCOPED_TRACE("truncated to " + std::to_string(cut) + " bytes");
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    try {
      auto model = Model::from_bytes(std::move(part));
      // The writer pads the end of the file; cutting only padding leaves
      // every referenced byte, so the model is whole and loads.
      EXPECT_GE(cut, bytes.size() - 16) << "a cut into referenced data must be refused";
      EXPECT_EQ(model->graph().ops.size(), 99u);
    } catch (const Error& e) {
      const std::string msg = e.what();  // "...too short", "...not 'TFL3'" or "...truncated or corrupted..."
      EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("not a TensorFlow Lite model") != std::string::npos)
          << msg;
    }
  }
}

TEST(ModelLoad, RandomByteFlipsAreRefusedOrRunSafely) {
  const std::vector<uint8_t> bytes = read_bytes(model_path());
  std::mt19937 rng(20261126);
  const int rounds = lookout::testing::sanitized() ? 120 : 300;
  // The structure (tables, vectors, shapes, options) sits outside the big
  // weight buffers; aim most flips at the first and last 64 KiB, where it is.
  const size_t head = std::min<size_t>(bytes.size(), 65536);
  int refused = 0, loaded = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<uint8_t> mutated = bytes;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) {
      size_t pos;
      switch (rng() % 3) {
        case 0: pos = rng() % head; break;
        case 1: pos = bytes.size() - 1 - rng() % head; break;
        default: pos = rng() % bytes.size(); break;
      }
      mutated[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    SCOPED_TRACE("round " + std::to_string(r));
    try {
      Model::from_bytes(mutated);
      ++loaded;
    } catch (const Error&) {
      ++refused;
      continue;
    }
    load_and_maybe_run(std::move(mutated), r % 10 == 0);
  }
  RecordProperty("refused", refused);
  RecordProperty("loaded", loaded);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace lookout::engine
