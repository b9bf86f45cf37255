// Internal to the pointwise convolution (pointwise_conv.h): the register
// tile of the dot-product levels, written once for each vector type V
// (pointwise_vnni.cc: zmm; pointwise_avxvnni.cc: VEX ymm). As with
// depthwise_step.h, each of those files defines LOOKOUT_POINTWISE_TARGET, its
// target attribute, before including this header and puts it on its V's
// functions too, so each tile is compiled for that file's instructions only.
//
// The tile: M pixels x N vectors of V::kBlock output channels. Per group of
// 4 input channels, each pixel's 4 bytes are broadcast and each filter
// vector (int8 w - 128) loaded once; vpdpbusd adds the four u8 x s8
// products per lane. The per-pixel row term (128 - wzp) * sum x and the
// column constant complete the accumulator before the requantization.
//
// V provides: I (vector), kBlock (int32 lanes), kVectorBytes, zero(),
// load_filter(p) (aligned), load_column(p), broadcast(int32),
// dpbusd(acc, u8, s8) (acc in place), add, Requant and requant(r), and
// store(out, total, q, left) (requantized; only min(left, kBlock) bytes).
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/pointwise_tiles.h"
#include "engine/quantization.h"

#if !defined(LOOKOUT_POINTWISE_TARGET)
#error "define LOOKOUT_POINTWISE_TARGET (the including file's target attribute) before including pointwise_dot_tile.h"
#endif

namespace lookout::engine::pointwise_detail {

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <class V, int M, int N>
struct DotTile {
  LOOKOUT_POINTWISE_TARGET static void run(const DotTileArgs& a);
};

template <class V, int M, int N>
LOOKOUT_POINTWISE_TARGET void DotTile<V, M, N>::run(const DotTileArgs& a) {
  using I = typename V::I;
  I acc[M][N];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) acc[m][n] = V::zero();

  const int8_t* w = a.filter;
  const uint8_t* x = a.input;
  for (int32_t g = 0; g < a.full_groups; ++g) {
    I wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = V::load_filter(w + n * V::kVectorBytes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const I xv = V::broadcast(static_cast<int32_t>(load_u32(x + m * a.in_c)));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) V::dpbusd(acc[m][n], xv, wv[n]);
    }
    w += N * V::kVectorBytes;
    x += 4;
  }
  if (a.tail != 0) {  // the last 1-3 input channels; the filter is zero past in_c
    I wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = V::load_filter(w + n * V::kVectorBytes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      uint32_t bytes = 0;
      std::memcpy(&bytes, x + m * a.in_c, static_cast<size_t>(a.tail));
      const I xv = V::broadcast(static_cast<int32_t>(bytes));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) V::dpbusd(acc[m][n], xv, wv[n]);
    }
  }

  const typename V::Requant q = V::requant(*a.requantization);
  I column[N];
#pragma GCC unroll 3
  for (int n = 0; n < N; ++n) column[n] = V::load_column(a.column + n * V::kBlock);
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    const I row = V::broadcast(a.row[m]);
    uint8_t* out = a.output + static_cast<int64_t>(m) * a.out_c;
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n)
      V::store(out + n * V::kBlock, V::add(V::add(acc[m][n], row), column[n]), q, a.channels - n * V::kBlock);
  }
}

}  // namespace lookout::engine::pointwise_detail
