// What the pointwise convolution's ISA levels share (pointwise_conv.h): the
// filter packing, the per-channel constants, the split across threads and
// the op. The register tiles are in pointwise_vnni.cc, pointwise_avxvnni.cc
// and pointwise_avx2.cc.
#include "engine/pointwise_conv.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <variant>

#include "engine/error.h"
#include "engine/ops/conv_common.h"
#include "engine/own_conv.h"
#include "engine/pointwise_tiles.h"

namespace lookout::engine {

namespace {
constexpr size_t kPackAlignment = 64;

// The avx2 bytes form (pointwise_conv.h): what vpmaddubsw's int16 lanes can
// take exactly, as a sum of |w - wzp| (255 x 128 = 32640 <= 32767).
constexpr int32_t kByteBudget = 128;
constexpr int32_t kByteBlock = 8;  // output channels per vector
constexpr int32_t kFixupBytes = kByteBlock * 4;

// The filter split for the avx2 bytes form: main (out_c x padded_in_c, int8)
// and each block's fixups.
struct ByteSplit {
  int32_t padded_in_c = 0;  // in_c rounded up to whole 8-input steps
  std::vector<int8_t> main;
  std::vector<int32_t> fixup_begin, fixup_groups;
  std::vector<int8_t> fixup_filter;
};

// Moves what exceeds the budget in one int16 lane's 4 values (2 inputs of
// each of a step's two groups) to the remainder, largest values first; the
// main values also stay within [-127, 127].
void split_lane(const int32_t* v, int8_t* main, int32_t* rest, const int32_t (&at)[4]) {
  int32_t m[4], total = 0;
  for (int i = 0; i < 4; ++i) {
    m[i] = std::clamp(v[at[i]], -127, 127);
    total += std::abs(m[i]);
  }
  while (total > kByteBudget) {
    int big = 0;
    for (int i = 1; i < 4; ++i)
      if (std::abs(m[i]) > std::abs(m[big])) big = i;
    const int32_t cut = std::min(total - kByteBudget, std::abs(m[big]));
    m[big] -= m[big] > 0 ? cut : -cut;
    total -= cut;
  }
  for (int i = 0; i < 4; ++i) {
    main[at[i]] = static_cast<int8_t>(m[i]);
    rest[at[i]] = v[at[i]] - m[i];
  }
}

ByteSplit split_for_bytes(const PointwiseShape& shape, const uint8_t* filter, int32_t filter_zero_point) {
  ByteSplit s;
  const int32_t in_c = shape.in_c, out_c = shape.out_c;
  s.padded_in_c = (in_c + 7) / 8 * 8;
  const auto width = static_cast<size_t>(s.padded_in_c);
  s.main.assign(static_cast<size_t>(out_c) * width, 0);
  std::vector<int32_t> v(width), rest(static_cast<size_t>(kByteBlock) * width);
  for (int32_t block = 0; block < out_c; block += kByteBlock) {
    s.fixup_begin.push_back(static_cast<int32_t>(s.fixup_groups.size()));
    std::fill(rest.begin(), rest.end(), 0);
    const int32_t channels = std::min(kByteBlock, out_c - block);
    for (int32_t c = 0; c < channels; ++c) {
      const size_t oc = static_cast<size_t>(block + c);
      std::fill(v.begin(), v.end(), 0);
      const uint8_t* row = filter + oc * static_cast<size_t>(in_c);
      for (int32_t ic = 0; ic < in_c; ++ic) v[static_cast<size_t>(ic)] = row[ic] - filter_zero_point;
      for (int32_t step = 0; step < s.padded_in_c; step += 8)
        for (int32_t half = 0; half < 2; ++half) {
          const int32_t at[4] = {step + 2 * half, step + 2 * half + 1, step + 4 + 2 * half, step + 5 + 2 * half};
          split_lane(v.data(), s.main.data() + oc * width, rest.data() + static_cast<size_t>(c) * width, at);
        }
    }
    // Each 4-input group's remainder, in fixups of at most 127 per value and
    // kByteBudget per pair.
    for (int32_t group = 0; group < s.padded_in_c / 4; ++group) {
      for (;;) {
        int8_t fixup[kFixupBytes] = {};
        bool any = false;
        for (int32_t c = 0; c < kByteBlock; ++c)
          for (int32_t pair = 0; pair < 2; ++pair) {
            int32_t* r = rest.data() + static_cast<size_t>(c) * width + static_cast<size_t>(4 * group + 2 * pair);
            const int32_t a = std::clamp(r[0], -127, 127);
            const int32_t room = std::min(127, kByteBudget - std::abs(a));  // an int8 either way
            const int32_t b = std::clamp(r[1], -room, room);
            r[0] -= a;
            r[1] -= b;
            fixup[4 * c + 2 * pair] = static_cast<int8_t>(a);
            fixup[4 * c + 2 * pair + 1] = static_cast<int8_t>(b);
            any = any || a != 0 || b != 0;
          }
        if (!any) break;
        s.fixup_groups.push_back(group);
        s.fixup_filter.insert(s.fixup_filter.end(), fixup, fixup + kFixupBytes);
      }
    }
  }
  s.fixup_begin.push_back(static_cast<int32_t>(s.fixup_groups.size()));
  return s;
}

// Whether the bytes form pays: its multiplies per vector of a register tile
// (3 per 8-input step, 2 per fixup) against the words form's (4 per step),
// where it also runs nearer its bound. On SSD MobileNet V2 (Zen 5), limits
// of a half, three quarters and all of the steps measured alike; a half
// keeps the words form for the layers where the two are close.
bool bytes_form_pays(const ByteSplit& s, int32_t out_c) {
  const int64_t steps = int64_t{(out_c + kByteBlock - 1) / kByteBlock} * (s.padded_in_c / 8);
  return 2 * static_cast<int64_t>(s.fixup_groups.size()) <= steps;
}

}  // namespace

PointwiseTiling pointwise_tiling(Isa isa, bool avx2_bytes) {
  // avx512vnni: 8 pixels x 3 zmm of 16 channels = 24 accumulators of 32.
  // avxvnni: 6 pixels x 2 ymm of 8 channels = 12 accumulators, 2 filter
  // vectors and a broadcast input: 15 of the 16 ymm (4 pixels x 3 ymm, also
  // 12 accumulators, measured the same on Zen 5 and wastes more lanes on
  // 16 or 160 output channels).
  // avx2 words: 6 pixels x 2 ymm of 8 channels = 12 accumulators, 2 filter
  // vectors, a broadcast input and vpmaddwd's product: all 16 ymm.
  // avx2 bytes: 4 pixels x 2 ymm = 8 accumulators, the two groups' 2 filter
  // vectors each, 2 broadcast inputs and 2 products: all 16 ymm (the ones of
  // vpmaddwd come from memory).
  switch (isa) {
    case Isa::avx512vnni: return {8, 16, 4, 3, 1};
    case Isa::avxvnni: return {6, 8, 4, 2, 1};
    default: return avx2_bytes ? PointwiseTiling{4, 8, 4, 2, 1} : PointwiseTiling{6, 8, 2, 2, 2};
  }
}

PointwiseConv::PointwiseConv(Isa isa, PointwiseShape shape, const uint8_t* filter, const int32_t* bias,
                             int32_t input_zero_point, int32_t filter_zero_point, Fp32Requantization requantization)
    : isa_(isa), tiling_(pointwise_tiling(isa)), shape_(shape), requantization_(requantization) {
  if (shape.pixels < 1 || shape.in_c < 1 || shape.out_c < 1)
    throw std::domain_error("pointwise convolution: pixels " + std::to_string(shape.pixels) + ", in_c " +
                            std::to_string(shape.in_c) + " and out_c " + std::to_string(shape.out_c) +
                            " must all be >= 1");
  if (isa == Isa::xnnpack) throw std::domain_error("pointwise convolution: xnnpack is not one of our ISA levels");
  require_isa(isa);
  ByteSplit split;
  if (isa == Isa::avx2) {
    split = split_for_bytes(shape, filter, filter_zero_point);
    avx2_bytes_ = bytes_form_pays(split, shape.out_c);
    if (avx2_bytes_) {
      tiling_ = pointwise_tiling(isa, true);
      fixup_begin_ = std::move(split.fixup_begin);
      fixup_groups_ = std::move(split.fixup_groups);
      fixup_filter_ = std::move(split.fixup_filter);
    }
  }
  // Copies, not references to members: the packing loop stores through an
  // int8_t pointer, which may alias any member as far as the compiler knows,
  // so members would be reloaded for every filter value.
  const PointwiseTiling t = tiling_;
  const bool bytes_form = avx2_bytes_;
  const int32_t in_width = bytes_form ? split.padded_in_c : shape.in_c;
  const int32_t groups = (in_width + t.group_inputs - 1) / t.group_inputs;
  const int32_t blocks = (shape.out_c + t.block_channels - 1) / t.block_channels;
  groups_ = groups;
  blocks_ = blocks;
  row_factor_ = 128 - filter_zero_point;

  const auto vector_bytes = static_cast<size_t>(t.vector_bytes());
  const size_t bytes = static_cast<size_t>(blocks) * static_cast<size_t>(groups) * vector_bytes;
  packed_storage_.assign(bytes + kPackAlignment, 0);
  const auto base = reinterpret_cast<uintptr_t>(packed_storage_.data());
  const size_t skip = (kPackAlignment - base % kPackAlignment) % kPackAlignment;
  int8_t* packed = packed_storage_.data() + skip;
  packed_ = packed;

  const size_t in_c = static_cast<size_t>(shape.in_c);
  for (int32_t chunk = 0; chunk < blocks; chunk += t.chunk_blocks) {
    const int32_t n_blocks = std::min(t.chunk_blocks, blocks - chunk);
    int8_t* chunk_base = packed + static_cast<size_t>(chunk) * static_cast<size_t>(groups) * vector_bytes;
    for (int32_t g = 0; g < groups; ++g)
      for (int32_t n = 0; n < n_blocks; ++n)
        for (int32_t c = 0; c < t.block_channels; ++c) {
          const int32_t oc = (chunk + n) * t.block_channels + c;
          if (oc >= shape.out_c) continue;
          for (int32_t j = 0; j < t.group_inputs; ++j) {
            const int32_t ic = t.group_inputs * g + j;
            if (ic >= shape.in_c) continue;
            const int32_t w = filter[static_cast<size_t>(oc) * in_c + static_cast<size_t>(ic)];
            const size_t element = (static_cast<size_t>(g) * static_cast<size_t>(n_blocks) + static_cast<size_t>(n)) *
                                       static_cast<size_t>(t.block_channels * t.group_inputs) +
                                   static_cast<size_t>(c * t.group_inputs + j);
            if (bytes_form) {
              chunk_base[element] =
                  split.main[static_cast<size_t>(oc) * static_cast<size_t>(in_width) + static_cast<size_t>(ic)];
            } else if (t.element_bytes == 1) {
              chunk_base[element] = static_cast<int8_t>(w - 128);
            } else {
              const auto wide = static_cast<int16_t>(w - filter_zero_point);
              std::memcpy(chunk_base + element * 2, &wide, sizeof(wide));
            }
          }
        }
  }
  // In int64, wrapped to int32 at the end: the final accumulator is exact in
  // int32 (require_accumulator_fits), and int32 adds wrap in the kernels.
  column_.assign(static_cast<size_t>(blocks_) * static_cast<size_t>(t.block_channels), 0);
  for (int32_t oc = 0; oc < shape.out_c; ++oc) {
    int64_t filter_sum = 0;
    for (size_t ic = 0; ic < in_c; ++ic)
      filter_sum += int64_t{filter[static_cast<size_t>(oc) * in_c + ic]} - filter_zero_point;
    const int64_t c = (bias != nullptr ? bias[oc] : 0) - int64_t{input_zero_point} * filter_sum;
    column_[static_cast<size_t>(oc)] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(c)));
  }
}

void PointwiseConv::run_range(const uint8_t* input, uint8_t* output, const Range& r) const {
  switch (isa_) {
    case Isa::avx512vnni: run_range_dot(input, output, r, pointwise_detail::vnni_dot_tiles()); break;
    case Isa::avxvnni: run_range_dot(input, output, r, pointwise_detail::avxvnni_dot_tiles()); break;
    default: avx2_bytes_ ? run_range_avx2_bytes(input, output, r) : run_range_avx2(input, output, r); break;
  }
}

void PointwiseConv::run_range_dot(const uint8_t* input, uint8_t* output, const Range& r,
                                  const pointwise_detail::DotTiles& tiles) const {
  constexpr int kMaxTile = 8;
  const int tile_pixels = tiling_.tile_pixels;
  if (tile_pixels > kMaxTile) throw Error("pointwise convolution: a tile of more than 8 pixels");
  const int64_t in_c = shape_.in_c;
  pointwise_detail::DotTileArgs a{};
  a.in_c = shape_.in_c;
  a.full_groups = shape_.in_c / 4;
  a.tail = shape_.in_c % 4;
  a.out_c = shape_.out_c;
  a.requantization = &requantization_;
  int32_t row[kMaxTile];
  a.row = row;
  for (int64_t p = r.pixel_begin; p < r.pixel_end; p += tile_pixels) {
    const int m = static_cast<int>(std::min<int64_t>(tile_pixels, r.pixel_end - p));
    for (int i = 0; i < m; ++i)  // wraps like the kernels' int32 adds
      row[i] = static_cast<int32_t>(static_cast<uint32_t>(row_factor_) *
                                    static_cast<uint32_t>(tiles.byte_sum(input + (p + i) * in_c, shape_.in_c)));
    a.input = input + p * in_c;
    for_each_chunk(output, p, r, [&](const Chunk& c, int n) {
      a.filter = c.filter;
      a.column = c.column;
      a.output = c.output;
      a.channels = c.channels;
      tiles.tile(m, n)(a);
    });
  }
}

void PointwiseConv::run_pixels(const uint8_t* input, uint8_t* output, int64_t begin, int64_t end) const {
  run_range(input, output, Range{begin, end, 0, blocks_});
}

void PointwiseConv::run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const {
  run_tasks(input, nullptr, output, threadpool);
}

void PointwiseConv::run_gathered(const uint8_t* rows, const RowGather& gather, uint8_t* output,
                                 pthreadpool_t threadpool) const {
  run_tasks(rows, &gather, output, threadpool);
}

void PointwiseConv::run_tasks(const uint8_t* input, const RowGather* gather, uint8_t* output,
                              pthreadpool_t threadpool) const {
  const size_t threads = threadpool != nullptr ? pthreadpool_get_threads_count(threadpool) : 1;
  if (threads <= 1 && gather == nullptr) {
    run_range(input, output, Range{0, shape_.pixels, 0, blocks_});
    return;
  }
  // Tasks of a few register tiles; with few pixels, output chunks are split
  // too (block ranges start at a chunk: every register tile is one whole
  // packed chunk).
  const auto pixels = static_cast<size_t>(shape_.pixels);
  const size_t tile_i = 4 * static_cast<size_t>(tiling_.tile_pixels);
  const size_t pixel_tasks = (pixels + tile_i - 1) / tile_i;
  const bool split_blocks = threads > 1 && pixel_tasks < 4 * threads;
  const size_t tile_j = split_blocks ? static_cast<size_t>(tiling_.chunk_blocks) : static_cast<size_t>(blocks_);
  if (gather != nullptr && split_blocks) (*gather)(0, shape_.pixels);
  const RowGather* task_gather = split_blocks ? nullptr : gather;
  const auto task = [&](size_t i, size_t j, size_t count_i, size_t count_j) {
    const Range r{static_cast<int64_t>(i), static_cast<int64_t>(i + count_i), static_cast<int32_t>(j),
                  static_cast<int32_t>(j + count_j)};
    if (task_gather != nullptr) (*task_gather)(r.pixel_begin, r.pixel_end);
    run_range(input, output, r);
  };
  if (threads <= 1) {
    for (size_t i = 0; i < pixels; i += tile_i) task(i, 0, std::min(tile_i, pixels - i), tile_j);
    return;
  }
  pthreadpool_parallelize_2d_tile_2d(threadpool, task, pixels, static_cast<size_t>(blocks_), tile_i, tile_j);
}

// ---------------------------------------------------------------------------
// The op.

namespace {

// Beyond this, a convolution's gathered rows stay with XNNPACK (a hostile
// model could ask for gigabytes); the model's largest is 0.6 MB.
constexpr int64_t kMaxGatheredBytes = int64_t{16} << 20;

bool is_pointwise(int32_t k_h, int32_t k_w, const ConvOptions& o) {
  return k_h == 1 && k_w == 1 && o.stride_h == 1 && o.stride_w == 1;
}

// A window of `window` bytes gathers into a row padded to whole groups of 4
// bytes, so that no register tile reads a tail.
int64_t gathered_row_bytes(int64_t window) { return (window + 3) / 4 * 4; }

// Copies n bytes with at most two overlapping moves when n < 16: the rows
// of few-channel windows are a few bytes each (3 channels x 3 taps: 9), where
// a call to memcpy costs more than the copy.
inline void copy_bytes(uint8_t* dst, const uint8_t* src, size_t n) {
  const auto copy2 = [&](auto word) {
    constexpr size_t k = sizeof(word);
    decltype(word) head, tail;
    std::memcpy(&head, src, k);
    std::memcpy(&tail, src + n - k, k);
    std::memcpy(dst, &head, k);
    std::memcpy(dst + n - k, &tail, k);
  };
  if (n >= 16)
    std::memcpy(dst, src, n);
  else if (n >= 8)
    copy2(uint64_t{});
  else if (n >= 4)
    copy2(uint32_t{});
  else
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
}

// A convolution with a larger filter or a stride, as a pointwise one: each
// output pixel's window gathered into a row of k_h * k_w * in_c bytes, in
// the filter's [k_h, k_w, in_c] order (taps outside the image read the
// input zero point, whose products the column constant cancels as for real
// inputs: the reference's skipped taps), then the pointwise GEMM, tile by
// tile (PointwiseConv::run_gathered).
class GatheredConv {
 public:
  // conv takes rows of row_bytes >= k_h * k_w * in_c bytes; it ignores the
  // bytes past the window, which stay zero.
  GatheredConv(const ConvParams& p, size_t row_bytes, PointwiseConv conv)
      : window_(p), zero_point_(static_cast<uint8_t>(-p.input_offset)), conv_(std::move(conv)), row_bytes_(row_bytes),
        rows_(static_cast<size_t>(window_.batches * window_.out_h * window_.out_w) * row_bytes_, 0),
        input_bytes_(window_.batches * window_.in_h * window_.in_w * window_.in_c) {
    prepare_line_masks();
  }

  std::string form() const { return conv_.form(); }

  void run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const {
    conv_.run_gathered(
        rows_.data(), [&](int64_t begin, int64_t end) { gather(input, begin, end); }, output, threadpool);
  }

 private:
  // Rows [begin, end) of the gathered matrix.
  void gather(const uint8_t* input, int64_t begin, int64_t end) const {
    const ConvWindow& w = window_;
    const auto in_c = static_cast<size_t>(w.in_c);
    const size_t line_bytes = in_c * static_cast<size_t>(w.k_w);
    int64_t ox = begin % w.out_w, oy = begin / w.out_w % w.out_h, b = begin / w.out_w / w.out_h;
    for (int64_t p = begin; p < end; ++p) {
      uint8_t* row = rows_.data() + static_cast<size_t>(p) * row_bytes_;
      const int64_t ix0 = ox * w.stride_w - w.pad_left;
      const bool columns_inside = ix0 >= 0 && ix0 + w.k_w <= w.in_w;  // the taps of a line are adjacent
      const int64_t iy0 = oy * w.stride_h - w.pad_top;
      if (!line_masks_.empty() && columns_inside && iy0 >= 0 && iy0 + w.k_h <= w.in_h) {
        const int64_t first = ((b * w.in_h + iy0) * w.in_w + ix0) * w.in_c;
        const int64_t line_step = w.in_w * w.in_c;
        // Its loads read 16 bytes from each line's start: all inside the input.
        if (first + (w.k_h - 1) * line_step + 16 <= input_bytes_) {
          gather_lines(input + first, line_step, row);
          advance_pixel(ox, oy, b);
          continue;
        }
      }
      for (int64_t ky = 0; ky < w.k_h; ++ky, row += line_bytes) {
        const int64_t iy = oy * w.stride_h - w.pad_top + ky;
        if (iy < 0 || iy >= w.in_h) {
          std::memset(row, zero_point_, line_bytes);
          continue;
        }
        const uint8_t* line = input + (b * w.in_h + iy) * w.in_w * w.in_c;
        if (columns_inside) {
          copy_bytes(row, line + ix0 * w.in_c, line_bytes);
          continue;
        }
        for (int64_t ix = ix0; ix < ix0 + w.k_w; ++ix) {
          uint8_t* tap = row + static_cast<size_t>(ix - ix0) * in_c;
          if (ix >= 0 && ix < w.in_w)
            copy_bytes(tap, line + ix * w.in_c, in_c);
          else
            std::memset(tap, zero_point_, in_c);
        }
      }
      advance_pixel(ox, oy, b);
    }
  }

  void advance_pixel(int64_t& ox, int64_t& oy, int64_t& b) const {
    if (++ox == window_.out_w) {
      ox = 0;
      if (++oy == window_.out_h) {
        oy = 0;
        ++b;
      }
    }
  }

  // A window of few bytes (the first layer's 3 lines of 3 taps x 3
  // channels, in a row of 28) assembled in registers: each line's 16-byte
  // load shuffled into place for the row's first 16 bytes and its last 16,
  // two stores. Where rows are longer or lines wider, line_masks_ stays
  // empty and gather() copies line by line.
  void prepare_line_masks() {
#if defined(__x86_64__)
    const ConvWindow& w = window_;
    const int64_t line_bytes = w.k_w * w.in_c;
    const auto row_bytes = static_cast<int64_t>(row_bytes_);
    if (line_bytes > 16 || row_bytes < 16 || row_bytes > 32 || !isa_available(Isa::avx2)) return;
    line_masks_.assign(static_cast<size_t>(w.k_h) * 32, 0x80);  // 0x80: pshufb's zero
    for (int64_t ky = 0; ky < w.k_h; ++ky)
      for (int64_t half = 0; half < 2; ++half)
        for (int64_t i = 0; i < 16; ++i) {
          const int64_t at = (half == 0 ? i : row_bytes - 16 + i) - ky * line_bytes;  // in line ky
          if (at >= 0 && at < line_bytes)
            line_masks_[static_cast<size_t>(ky * 32 + half * 16 + i)] = static_cast<uint8_t>(at);
        }
#endif
  }

  // One row from the window whose first line starts at `first` (line_masks_).
  void gather_lines(const uint8_t* first, int64_t line_step, uint8_t* row) const;

  ConvWindow window_;
  uint8_t zero_point_;
  PointwiseConv conv_;
  size_t row_bytes_;
  mutable std::vector<uint8_t> rows_;  // an Engine, so its kernels, serve one thread
  int64_t input_bytes_;               // the input tensor's
  std::vector<uint8_t> line_masks_;  // per line, 32 pshufb indices (row bytes 0-15, then the last 16)
};

#if defined(__x86_64__)
LOOKOUT_AVX2 void GatheredConv::gather_lines(const uint8_t* first, int64_t line_step, uint8_t* row) const {
  __m128i head = _mm_setzero_si128(), tail = _mm_setzero_si128();
  const auto* masks = reinterpret_cast<const __m128i*>(line_masks_.data());
  for (int64_t ky = 0; ky < window_.k_h; ++ky) {
    const __m128i line = _mm_loadu_si128(reinterpret_cast<const __m128i*>(first + ky * line_step));
    head = _mm_or_si128(head, _mm_shuffle_epi8(line, _mm_loadu_si128(masks + 2 * ky)));
    tail = _mm_or_si128(tail, _mm_shuffle_epi8(line, _mm_loadu_si128(masks + 2 * ky + 1)));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(row), head);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(row + row_bytes_ - 16), tail);
}
#else
void GatheredConv::gather_lines(const uint8_t*, int64_t, uint8_t*) const {
  throw Error("the gathered convolution's line assembly is not built for this architecture");
}
#endif

}  // namespace

std::string pointwise_refusal(const Graph& graph, size_t op_index, Isa isa) {
  if (std::string why = own_conv_refusal(graph, op_index, OpKind::conv_2d); !why.empty()) return why;
  const Operator& op = graph.ops[op_index];
  const Tensor* filter = tensor_at(graph, op.inputs, kConvFilter);
  const Tensor* output = tensor_at(graph, op.outputs, kConvOutput);
  if (filter->shape.size() != 4 || output->shape.size() != 4) return "filter or output is not 4-D";
  if (!is_pointwise(filter->dim(1), filter->dim(2), std::get<ConvOptions>(op.options))) {
    const int64_t gathered = int64_t{output->dim(0)} * output->dim(1) * output->dim(2) *
                             gathered_row_bytes(int64_t{filter->dim(1)} * filter->dim(2) * filter->dim(3));
    if (gathered > kMaxGatheredBytes)
      return "the gathered windows would take " + std::to_string(gathered >> 20) + " MiB";
  }
  return own_isa_refusal(isa);
}

namespace {

// The checks and constants both the pointwise and the gathered form need.
struct PointwiseParams {
  ConvParams p;
  size_t in_c = 0, out_c = 0;  // in_c: the filter's [k_h, k_w, in_c] row
  int64_t pixels = 0;
  std::vector<int32_t> bias;
};

PointwiseParams prepare_pointwise_params(const OpContext& ctx, Isa isa) {
  PointwiseParams q;
  q.p = prepare_conv_params(ctx, /*depthwise=*/false);
  const ConvParams& p = q.p;
  ctx.require(p.type == DType::uint8 && p.options.dilation_h == 1 && p.options.dilation_w == 1,
              "the pointwise kernel takes uint8 convolutions with dilation 1 only");
  ctx.require(p.requantization.xnnpack, "the pointwise kernel needs XNNPACK's fp32 requantization");
  ctx.require(isa != Isa::xnnpack && isa_available(isa),
              std::string("the pointwise kernel needs ISA level ") + isa_name(isa) + ", which this CPU lacks");
  const Tensor& filter = ctx.input(kConvFilter);
  // Per output channel, the filter's [k_h, k_w, in_c] values are one row.
  q.out_c = static_cast<size_t>(p.out_c);
  q.in_c = static_cast<size_t>(p.k_h) * static_cast<size_t>(p.k_w) * static_cast<size_t>(p.in_c);
  q.bias = p.bias >= 0 ? conv_detail::copy_constant<int32_t>(ctx.input(kConvBias)) : std::vector<int32_t>(q.out_c, 0);
  const std::vector<int64_t> abs_sum = filter_abs_sums(filter.constant, q.out_c, q.in_c, p.filter_offset);
  require_accumulator_fits(ctx, p, abs_sum, q.bias.data());
  q.pixels = int64_t{p.batches} * p.geometry.out_h * p.geometry.out_w;
  return q;
}

PointwiseConv unpadded_conv(const OpContext& ctx, Isa isa, const PointwiseParams& q) {
  const ConvParams& p = q.p;
  return PointwiseConv(isa, PointwiseShape{q.pixels, static_cast<int32_t>(q.in_c), p.out_c},
                       ctx.input(kConvFilter).constant, q.bias.data(), -p.input_offset, -p.filter_offset,
                       p.requantization.fp32);
}

}  // namespace

bool is_pointwise_op(const Graph& graph, size_t op_index) {
  const Operator& op = graph.ops.at(op_index);
  const Tensor* filter = tensor_at(graph, op.inputs, kConvFilter);
  const auto* options = std::get_if<ConvOptions>(&op.options);
  return op.kind == OpKind::conv_2d && options != nullptr && filter != nullptr && filter->shape.size() == 4 &&
         is_pointwise(filter->dim(1), filter->dim(2), *options);
}

PointwiseConv create_pointwise_conv(const OpContext& ctx, Isa isa) {
  const PointwiseParams q = prepare_pointwise_params(ctx, isa);
  const ConvParams& p = q.p;
  ctx.require(is_pointwise(p.k_h, p.k_w, p.options), "not a 1x1 stride 1 convolution");
  return unpadded_conv(ctx, isa, q);
}

std::unique_ptr<Kernel> prepare_pointwise(const OpContext& ctx, Isa isa, pthreadpool_t threadpool) {
  const PointwiseParams q = prepare_pointwise_params(ctx, isa);
  const ConvParams& p = q.p;
  if (is_pointwise(p.k_h, p.k_w, p.options))
    return std::make_unique<OwnConvKernel<PointwiseConv>>(p.input, p.output, unpadded_conv(ctx, isa, q), threadpool);
  const Tensor& filter = ctx.input(kConvFilter);
  const size_t in_c = q.in_c, out_c = q.out_c;
  // The padding's filter values are the filter zero point: whatever the
  // padding bytes hold, w - wzp = 0 makes their products zero (at
  // avx512vnni and avxvnni, their x (w - 128) cancels (128 - wzp) x of the
  // row sum).
  const auto row_bytes = static_cast<size_t>(gathered_row_bytes(static_cast<int64_t>(in_c)));
  std::vector<uint8_t> padded(out_c * row_bytes, static_cast<uint8_t>(-p.filter_offset));
  for (size_t oc = 0; oc < out_c; ++oc)
    std::memcpy(padded.data() + oc * row_bytes, filter.constant + oc * in_c, in_c);
  PointwiseConv conv(isa, PointwiseShape{q.pixels, static_cast<int32_t>(row_bytes), p.out_c}, padded.data(),
                     q.bias.data(), -p.input_offset, -p.filter_offset, p.requantization.fp32);
  return std::make_unique<OwnConvKernel<GatheredConv>>(p.input, p.output, GatheredConv(p, row_bytes, std::move(conv)),
                                                       threadpool);
}

}  // namespace lookout::engine
