// Runs one of our own kernels (prepared by `prepare(ctx, isa, threadpool)`)
// on the fixture's op 0 at each ISA level, on one and two threads, and
// expects the reference kernel's bytes.
#pragma once

#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/isa.h"
#include "engine/isa_levels.h"
#include "engine/kernel.h"
#include "engine/op_fixture.h"

namespace lookout::engine::testing {

struct ThreadpoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};

// One two-thread pool for every case (creating threads per case is slow).
inline pthreadpool_t two_threads() {
  static const std::unique_ptr<pthreadpool, ThreadpoolDeleter> pool(pthreadpool_create(2));
  return pool.get();
}

inline constexpr float kInputScale = 0.02f, kFilterScale = 0.005f;

// Random input and filter bytes for a uint8 convolution whose output channel
// oc sums `terms` products x * filter[filter_index(oc, k)], k < terms. The
// bias cancels the mean of sum (x - xzp)(w - wzp) (x averages 127.5), which
// is large for extreme zero points, and the output scale puts about 40 steps
// in one standard deviation of what is left: the outputs spread over the
// range, some clamped at either end.
//
// filter_spread > 0 draws the filter as trained ones are: around its zero
// point (normal, that standard deviation), 1 value in 256 uniform over the
// bytes (avx2's bytes form splits those off: pointwise_conv.h).
struct ConvData {
  std::vector<uint8_t> x, filter;
  std::vector<int32_t> bias;
  float output_scale = 0;
};

template <class FilterIndex>
ConvData random_conv_data(uint32_t seed, size_t x_size, int32_t out_c, int32_t terms, FilterIndex filter_index,
                          int32_t input_zp, int32_t filter_zp, int32_t filter_spread = 0) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  ConvData d;
  d.x.resize(x_size);
  d.filter.resize(static_cast<size_t>(out_c) * static_cast<size_t>(terms));
  for (auto& v : d.x) v = static_cast<uint8_t>(byte(rng));
  std::normal_distribution<double> trained(filter_zp, filter_spread > 0 ? filter_spread : 1);
  for (auto& v : d.filter) {
    const bool outlier = filter_spread == 0 || byte(rng) == 0;
    v = static_cast<uint8_t>(outlier ? byte(rng) : std::clamp<long>(std::lround(trained(rng)), 0, 255));
  }
  constexpr double kByteVariance = (256.0 * 256.0 - 1.0) / 12.0;  // uniform over 0..255
  double filter_square = kByteVariance + (127.5 - filter_zp) * (127.5 - filter_zp);  // mean of (w - wzp)^2
  if (filter_spread > 0) {
    filter_square = 0;
    for (uint8_t v : d.filter)
      filter_square += (v - filter_zp) * (v - filter_zp) / static_cast<double>(d.filter.size());
  }
  const double spread = std::sqrt(terms * kByteVariance * filter_square);
  std::uniform_int_distribution<int32_t> bias_dist(-static_cast<int32_t>(spread / 2), static_cast<int32_t>(spread / 2));
  for (int32_t oc = 0; oc < out_c; ++oc) {
    double mean = 0.0;
    for (int32_t k = 0; k < terms; ++k) mean += (127.5 - input_zp) * (d.filter[filter_index(oc, k)] - filter_zp);
    d.bias.push_back(static_cast<int32_t>(std::lround(-mean)) + bias_dist(rng));
  }
  d.output_scale = static_cast<float>(kInputScale * kFilterScale * spread / 40.0);
  return d;
}

// The data must exercise the requantization, not just its clamp.
inline void expect_spread(const std::vector<uint8_t>& expected, const std::string& name) {
  if (expected.size() < 256) return;
  const auto inside = std::count_if(expected.begin(), expected.end(), [](uint8_t v) { return v != 0 && v != 255; });
  EXPECT_GT(inside, static_cast<std::ptrdiff_t>(expected.size() / 4)) << name << ": outputs mostly clamped";
}

// A test of our own kernels: levels_ holds the ISA levels of ours the CPU
// runs (the others reported skipped); with none, the test is skipped.
class OwnKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    levels_ = runnable_isa_levels({Isa::avx2, Isa::avxvnni, Isa::avx512vnni});
    if (levels_.empty()) GTEST_SKIP() << "the CPU has none of avx2, avxvnni, avx512vnni";
  }
  std::vector<Isa> levels_;
};

// `input` holds `x`; the op's other inputs are constants; `expected` is the
// reference kernel's output, `channels` its innermost dimension.
template <class Prepare>
void expect_kernel_identical(const OpFixture& f, const std::vector<Isa>& levels, Prepare prepare, int32_t input,
                             const std::vector<uint8_t>& x, int32_t output, const std::vector<uint8_t>& expected,
                             int32_t channels, const std::string& name) {
  for (Isa isa : levels) {
    for (int threads : {1, 2}) {
      const OpContext ctx(f.graph, f.graph.ops[0], 0);
      const std::unique_ptr<Kernel> kernel = prepare(ctx, isa, threads > 1 ? two_threads() : nullptr);
      std::vector<uint8_t> got(expected.size(), 0xAB);
      TensorBuffers buffers(f.graph.tensors.size());
      buffers.set(input, const_cast<uint8_t*>(x.data()));
      buffers.set(output, got.data());
      for (size_t i = 1; i < f.graph.ops[0].inputs.size(); ++i) {
        const int32_t t = f.graph.ops[0].inputs[i];
        buffers.set(t, const_cast<uint8_t*>(f.graph.tensors[static_cast<size_t>(t)].constant));
      }
      kernel->eval(buffers);
      const auto c = static_cast<size_t>(channels);
      size_t mismatches = 0;
      for (size_t i = 0; i < expected.size(); ++i)
        if (got[i] != expected[i] && ++mismatches <= 5)
          ADD_FAILURE() << name << " " << isa_name(isa) << " threads " << threads << ": pixel " << i / c
                        << " channel " << i % c << ": reference " << int{expected[i]} << ", ours " << int{got[i]};
      EXPECT_EQ(mismatches, 0u) << name << " " << isa_name(isa) << " threads " << threads;
    }
  }
}

}  // namespace lookout::engine::testing
