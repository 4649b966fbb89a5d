// linear(): y = x · Wᵀ + b. Few rows go to the streaming kernels in gemv.cc; larger batches to a
// oneDNN matmul on the prepacked weight, with primitives cached by shape (creating one JIT-compiles
// kernels, far too slow to repeat per call).
#include <omp.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "bf16.h"
#include "common.h"
#include "dnnl_context.h"
#include "kernels.h"

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

}  // namespace

void linearForward(const float* x, int64_t rows, const PackedWeight& w, const float* bias, float* y) {
  if (rows == 0) return;
  if (rows <= gemvMaxRows(w.dtype) && w.gemv != GemvLayout::None) {
    gemvLinear(x, rows, w, bias, y);
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

}  // namespace tuneloop
