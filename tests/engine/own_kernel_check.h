// Runs one of our own kernels (prepared by `prepare(ctx, isa, threadpool)`)
// on the fixture's op 0 at each ISA level, on one and two threads, and
// expects the reference kernel's bytes.
#pragma once

#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/isa.h"
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
