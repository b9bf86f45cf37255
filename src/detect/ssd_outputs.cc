#include "detect/ssd_outputs.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lookout::detect {

std::vector<float> output_floats(const engine::Engine& engine, size_t position) {
  const std::span<const uint8_t> bytes = engine.output(position);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

SsdOutputs read_ssd_outputs(const engine::Engine& engine) {
  if (engine.model().graph().outputs.size() < kSsdOutputs)
    throw engine::Error("the model has no detection outputs (expected 4 graph outputs)");
  for (size_t i = 0; i < kSsdOutputs; ++i)
    if (engine.output_tensor(i).type != engine::DType::float32)
      throw engine::Error("detection output '" + engine.output_tensor(i).name + "' is not float32");
  const size_t capacity = engine.output_tensor(kSsdClasses).elements();
  if (engine.output_tensor(kSsdBoxes).elements() != capacity * 4 ||
      engine.output_tensor(kSsdScores).elements() != capacity || engine.output_tensor(kSsdCount).elements() != 1)
    throw engine::Error("detection outputs have inconsistent sizes");

  const std::vector<float> boxes = output_floats(engine, kSsdBoxes), classes = output_floats(engine, kSsdClasses),
                           scores = output_floats(engine, kSsdScores), count = output_floats(engine, kSsdCount);
  // A hostile model can put any float here: clamp before converting (a
  // float outside int's range converted to int is undefined behaviour).
  auto to_int = [](float v, int lo, int hi) {
    return std::isfinite(v) ? static_cast<int>(std::clamp(v, static_cast<float>(lo), static_cast<float>(hi))) : lo;
  };
  SsdOutputs d;
  d.count = to_int(count[0], 0, static_cast<int>(std::min<size_t>(capacity, 1 << 20)));
  for (size_t i = 0; i < static_cast<size_t>(d.count); ++i) {
    d.boxes.push_back({boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]});
    d.classes.push_back(to_int(classes[i], -1, 1 << 20));
    d.scores.push_back(scores[i]);
  }
  return d;
}

}  // namespace lookout::detect
