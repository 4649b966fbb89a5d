// linear(): y = x · Wᵀ + b. Few rows go to the streaming kernels in gemv.cc; larger batches to a
// oneDNN matmul on the prepacked weight, with primitives cached by shape (creating one JIT-compiles
// kernels, far too slow to repeat per call).
#include <omp.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bf16.h"
#include "capabilities.h"
#include "common.h"
#include "dnnl_context.h"
#include "kernels.h"
#include "strided_matmul.h"

namespace tuneloop {

namespace {

using dnnl::memory;

// oneDNN partitions a matmul for the thread count at creation, so that is part of the key.
struct PrimitiveKey {
  int64_t rows, k, n;
  DType dtype;
  bool bias;
  int threads;
  bool operator==(const PrimitiveKey& o) const {
    return rows == o.rows && k == o.k && n == o.n && dtype == o.dtype && bias == o.bias && threads == o.threads;
  }
};

struct PrimitiveKeyHash {
  size_t operator()(const PrimitiveKey& key) const {
    size_t h = std::hash<int64_t>()(key.rows);
    h = h * 1000003u ^ std::hash<int64_t>()(key.k);
    h = h * 1000003u ^ std::hash<int64_t>()(key.n);
    h = h * 31u + static_cast<size_t>(key.threads);
    return h * 31u + static_cast<size_t>(key.dtype) * 2u + (key.bias ? 1u : 0u);
  }
};

struct CachedMatmul {
  dnnl::matmul primitive;
  memory::desc src, bias, dst, scratchpad;
};

// Row counts vary with batch composition, so the cache is bounded; it is simply emptied when full
// (entries in use stay alive through their shared_ptr).
constexpr size_t kMaxCachedPrimitives = 256;

std::shared_ptr<const CachedMatmul> matmulFor(int64_t rows, const PackedWeight& w, bool hasBias) {
  static std::mutex mutex;
  static std::unordered_map<PrimitiveKey, std::shared_ptr<const CachedMatmul>, PrimitiveKeyHash> cache;
  const PrimitiveKey key{rows, w.inFeatures, w.outFeatures, w.dtype, hasBias, omp_get_max_threads()};
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;

  const auto srcType = w.dtype == DType::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
  auto entry = std::make_shared<CachedMatmul>();
  entry->src = memory::desc({rows, w.inFeatures}, srcType, memory::format_tag::ab);
  entry->bias = memory::desc({1, w.outFeatures}, memory::data_type::f32, memory::format_tag::ab);
  entry->dst = memory::desc({rows, w.outFeatures}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto desc = hasBias ? dnnl::matmul::desc(entry->src, w.desc, entry->bias, entry->dst)
                      : dnnl::matmul::desc(entry->src, w.desc, entry->dst);
  dnnl::matmul::primitive_desc pd(desc, attr, cpuEngine());
  entry->scratchpad = pd.scratchpad_desc();
  entry->primitive = dnnl::matmul(pd);
  if (cache.size() >= kMaxCachedPrimitives) cache.clear();
  cache.emplace(key, entry);
  return entry;
}

void toBf16Parallel(const float* src, uint16_t* dst, int64_t n) {
  const int64_t chunk = 1 << 14;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t start = c * chunk;
    f32ToBf16Array(src + start, dst + start, std::min(chunk, n - start));
  }
}

void gemvLinear(const float* x, int64_t rows, const PackedWeight& w, const float* bias, float* y) {
  thread_local Scratch packedX;
  const int64_t k = w.inFeatures, ldx = w.paddedK;
  void* xp;
  if (w.dtype == DType::BF16) {
    uint16_t* xb = packedX.get<uint16_t>(rows * ldx);
    for (int64_t r = 0; r < rows; r++) {
      f32ToBf16Array(x + r * k, xb + r * ldx, k);
      std::fill(xb + r * ldx + k, xb + (r + 1) * ldx, uint16_t{0});
    }
    xp = xb;
  } else {
    float* xf = packedX.get<float>(rows * ldx);
    for (int64_t r = 0; r < rows; r++) {
      std::copy(x + r * k, x + (r + 1) * k, xf + r * ldx);
      std::fill(xf + r * ldx + k, xf + (r + 1) * ldx, 0.0f);
    }
    xp = xf;
  }
  gemvForward(xp, rows, w, bias, y);
}

// Bytes of float32 weight slab widened at a time by the bf16-as-f32 matmuls: big enough that each
// matmul has a long inner dimension, small enough to stay in the last-level cache.
constexpr int64_t kSlabBytes = int64_t{4} << 20;

// Output features per widened slab of a bf16 weight: whole 64-column blocks, about kSlabBytes.
int64_t widenedSlabColumns(const PackedWeight& w) {
  const int64_t target = std::max<int64_t>(1, kSlabBytes / (w.inFeatures * 4) / 64) * 64;
  return std::min(target, w.outFeatures);
}

// x rounded to bf16 and kept as float32, parallel over chunks.
void roundToBf16Parallel(const float* src, float* dst, int64_t n) {
  const int64_t chunk = 1 << 14;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t start = c * chunk;
    roundToBf16Array(src + start, dst + start, std::min(chunk, n - start));
  }
}

// A bf16 weight where oneDNN has no bf16 matmul: y[:, n0:n0+nc] = x̃ · W̃[n0:n0+nc]ᵀ (+ bias) for
// slabs of output features, x̃ being x rounded to bf16 and W̃ the slab widened to float32; the
// float32 products of bf16 values are exact, so this is bf16 compute, and only one slab of float32
// weight exists at a time.
void linearBf16AsF32(const float* x, int64_t rows, const PackedWeight& w, const float* bias, float* y) {
  const int64_t K = w.inFeatures, N = w.outFeatures;
  thread_local Scratch roundedInput;
  thread_local Scratch slabScratch;
  float* xr = roundedInput.get<float>(rows * K);
  roundToBf16Parallel(x, xr, rows * K);
  const int64_t slab = widenedSlabColumns(w);
  float* widened = slabScratch.get<float>(slab * K);
  for (int64_t n0 = 0; n0 < N; n0 += slab) {
    const int64_t nc = std::min(slab, N - n0);
    widenBf16Columns(w, n0, nc, widened);
    // b = the slab as the K x nc row-major matrix.
    runStridedMatmul({rows, K, nc, K, 1, nc, 1, N, DType::F32, bias != nullptr, false}, xr, widened,
                     bias ? bias + n0 : nullptr, y + n0);
  }
}

}  // namespace

void linearForward(const float* x, int64_t rows, const PackedWeight& w, const float* bias, float* y) {
  if (rows == 0) return;
  if (rows <= gemvMaxRows(w.dtype) && w.gemv != GemvLayout::None) {
    gemvLinear(x, rows, w, bias, y);
    return;
  }
  if (w.dtype == DType::BF16 && !onednnBf16Matmul()) {
    linearBf16AsF32(x, rows, w, bias, y);
    return;
  }
  thread_local Scratch bf16Input;
  thread_local Scratch scratchpad;
  auto mm = matmulFor(rows, w, bias != nullptr);
  auto& engine = cpuEngine();
  const void* src = x;
  if (w.dtype == DType::BF16) {
    uint16_t* xb = bf16Input.get<uint16_t>(rows * w.inFeatures);
    toBf16Parallel(x, xb, rows * w.inFeatures);
    src = xb;
  }
  memory srcMem(mm->src, engine, const_cast<void*>(src));
  memory weightMem(w.desc, engine, w.data.get());
  memory dstMem(mm->dst, engine, y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, srcMem}, {DNNL_ARG_WEIGHTS, weightMem}, {DNNL_ARG_DST, dstMem}};
  const size_t scratchBytes = mm->scratchpad.get_size();
  if (scratchBytes > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(mm->scratchpad, engine, scratchpad.get<uint8_t>(scratchBytes)));
  }
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(mm->bias, engine, const_cast<float*>(bias)));
  auto& stream = cpuStream();
  mm->primitive.execute(stream, args);
  stream.wait();
}

// ---- Backward pieces: a general float32 matmul, and dx = dy · W on the packed weight. ----

namespace {

// Size of the inner block along N (dimension 1) of the packed K x N layout.
int64_t columnBlock(const memory::desc& desc) {
  const auto& blk = desc.data.format_desc.blocking;
  int64_t size = 1;
  for (int i = 0; i < blk.inner_nblks; i++) {
    if (blk.inner_idxs[i] == 1) size *= blk.inner_blks[i];
  }
  return size;
}

// Reorder primitives by (source, destination) layout; creating one each call costs more than a
// small slab's copy.
dnnl::reorder reorderFor(const memory::desc& source, const memory::desc& target) {
  static std::mutex mutex;
  static std::vector<std::pair<std::pair<memory::desc, memory::desc>, dnnl::reorder>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  for (const auto& entry : cache) {
    if (entry.first.first == source && entry.first.second == target) return entry.second;
  }
  dnnl::reorder primitive(dnnl::reorder::primitive_desc(cpuEngine(), source, cpuEngine(), target));
  if (cache.size() >= kMaxCachedPrimitives) cache.clear();
  cache.emplace_back(std::make_pair(source, target), primitive);
  return primitive;
}

}  // namespace

void matmulForward(const float* a, const float* b, int64_t m, int64_t k, int64_t n, bool transposeA, bool transposeB,
                   float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  const StridedMatmul shape{m, k, n, transposeA ? 1 : k, transposeA ? m : 1, transposeB ? 1 : n, transposeB ? k : 1, n, DType::F32, false, false};
  runStridedMatmul(shape, a, b, nullptr, c);
}

// dx = dy · W, where the packed operand is Wᵀ (K x N, blocked). oneDNN's matmul only reads its own
// blocked layouts in the forward direction, so slabs of whole column blocks are unpacked by a
// reorder into a plain [nc, K] buffer, and each slab adds dy[:, n0:n0+nc] · W[n0:n0+nc, :] into dx.
// Only one slab exists at a time. A float32 weight runs in float32. A bf16 weight stays bf16 and dy
// is rounded to bf16, as PyTorch's autocast computes this product: widening the weight to float32
// instead made the backward of bf16 training run at float32 speed, over half of each step.
//
// Without a oneDNN bf16 matmul, a bf16 weight's slabs are widened to float32 instead and dy is
// rounded to bf16 in float32: the same exact products, at float32 matmul speed.
void linearBackwardInput(const float* dy, int64_t rows, const PackedWeight& w, float* dx) {
  if (rows == 0) return;
  const int64_t K = w.inFeatures, N = w.outFeatures;
  const bool bf16 = w.dtype == DType::BF16;
  if (bf16 && !onednnBf16Matmul()) {
    const int64_t slab = widenedSlabColumns(w);
    thread_local Scratch widenedScratch;
    thread_local Scratch roundedScratch;
    float* widened = widenedScratch.get<float>(slab * K);
    float* dyRounded = roundedScratch.get<float>(rows * slab);
    for (int64_t n0 = 0; n0 < N; n0 += slab) {
      const int64_t nc = std::min(slab, N - n0);
      widenBf16Columns(w, n0, nc, widened);
#pragma omp parallel for schedule(static) if (rows * nc > kParallelElements)
      for (int64_t r = 0; r < rows; r++) roundToBf16Array(dy + r * N + n0, dyRounded + r * nc, nc);
      // a = dy slab [rows, nc]; b = W[n0:n0+nc, :] as nc x K, stored [K][nc] (strides 1, nc).
      runStridedMatmul({rows, nc, K, nc, 1, 1, nc, K, DType::F32, false, n0 > 0}, dyRounded, widened, nullptr, dx);
    }
    return;
  }
  const int64_t elementBytes = static_cast<int64_t>(dtypeSize(w.dtype));
  const int64_t block = columnBlock(w.desc);
  const int64_t target = std::max<int64_t>(1, kSlabBytes / (K * elementBytes) / block);
  const int64_t slab = std::min(N, target * block);
  thread_local Scratch slabScratch;
  thread_local Scratch dyScratch;
  void* unpacked = slabScratch.get<uint8_t>(slab * K * elementBytes);
  uint16_t* dyBf16 = bf16 ? dyScratch.get<uint16_t>(rows * slab) : nullptr;
  auto& engine = cpuEngine();
  auto& stream = cpuStream();
  const auto plainType = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  for (int64_t n0 = 0; n0 < N; n0 += slab) {
    const int64_t nc = std::min(slab, N - n0);
    // The slab's view of the packed memory, rebased to offset 0 so that every full slab shares one
    // cached reorder (the offset moves to the data pointer).
    memory::desc source = w.desc.submemory_desc({K, nc}, {0, n0});
    const int64_t offset = source.data.offset0;
    source.data.offset0 = 0;
    memory::desc plain({K, nc}, plainType, memory::dims{1, K});
    memory sourceMem(source, engine, static_cast<uint8_t*>(w.data.get()) + offset * elementBytes);
    memory plainMem(plain, engine, unpacked);
    reorderFor(source, plain).execute(stream, sourceMem, plainMem);
    stream.wait();
    if (bf16) {
      // a = dy[:, n0:n0+nc] rounded to bf16, packed [rows, nc]; b = the slab as [nc, K] row-major.
#pragma omp parallel for schedule(static) if (rows * nc > kParallelElements)
      for (int64_t r = 0; r < rows; r++) f32ToBf16Array(dy + r * N + n0, dyBf16 + r * nc, nc);
      runStridedMatmul({rows, nc, K, nc, 1, K, 1, K, DType::BF16, false, n0 > 0}, dyBf16, unpacked, nullptr, dx);
    } else {
      // a = dy[:, n0:n0+nc] (strides N, 1); b = the slab as [nc, K] row-major.
      runStridedMatmul({rows, nc, K, N, 1, K, 1, K, DType::F32, false, n0 > 0}, dy + n0, unpacked, nullptr, dx);
    }
  }
}

}  // namespace tuneloop
