#include "strided_matmul.h"

#include <omp.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "common.h"
#include "dnnl_context.h"

namespace tuneloop {

namespace {

using dnnl::memory;

// oneDNN partitions a matmul for the thread count at creation, so that is part of the key.
struct Key {
  StridedMatmul shape;
  int threads;
  bool operator==(const Key& o) const {
    const StridedMatmul &a = shape, &b = o.shape;
    return a.m == b.m && a.k == b.k && a.n == b.n && a.lda0 == b.lda0 && a.lda1 == b.lda1 && a.ldb0 == b.ldb0 &&
           a.ldb1 == b.ldb1 && a.ldc == b.ldc && a.dtype == b.dtype && a.bias == b.bias && a.accumulate == b.accumulate &&
           threads == o.threads;
  }
};

struct KeyHash {
  size_t operator()(const Key& key) const {
    const StridedMatmul& s = key.shape;
    size_t h = 0;
    for (int64_t v : {s.m, s.k, s.n, s.lda0, s.lda1, s.ldb0, s.ldb1, s.ldc}) h = h * 1000003u ^ std::hash<int64_t>()(v);
    return ((h * 31u + static_cast<size_t>(key.threads)) * 4u + static_cast<size_t>(s.dtype)) * 4u + (s.bias ? 2u : 0u) +
           (s.accumulate ? 1u : 0u);
  }
};

struct Cached {
  dnnl::matmul primitive;
  memory::desc a, b, bias, c, scratchpad;
};

// Shapes vary with batch composition, so the cache is bounded; it is simply emptied when full (entries
// in use stay alive through their shared_ptr).
constexpr size_t kMaxCached = 256;

std::shared_ptr<const Cached> primitiveFor(const Key& key) {
  static std::mutex mutex;
  static std::unordered_map<Key, std::shared_ptr<const Cached>, KeyHash> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  const StridedMatmul& s = key.shape;
  const auto type = s.dtype == DType::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
  auto entry = std::make_shared<Cached>();
  entry->a = memory::desc({s.m, s.k}, type, memory::dims{s.lda0, s.lda1});
  entry->b = memory::desc({s.k, s.n}, type, memory::dims{s.ldb0, s.ldb1});
  entry->bias = memory::desc({1, s.n}, memory::data_type::f32, memory::format_tag::ab);
  entry->c = memory::desc({s.m, s.n}, memory::data_type::f32, memory::dims{s.ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (s.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  auto desc = s.bias ? dnnl::matmul::desc(entry->a, entry->b, entry->bias, entry->c) : dnnl::matmul::desc(entry->a, entry->b, entry->c);
  dnnl::matmul::primitive_desc pd(desc, attr, cpuEngine());
  entry->scratchpad = pd.scratchpad_desc();
  entry->primitive = dnnl::matmul(pd);
  if (cache.size() >= kMaxCached) cache.clear();
  cache.emplace(key, entry);
  return entry;
}

}  // namespace

void runStridedMatmul(const StridedMatmul& shape, const void* a, const void* b, const float* bias, float* c) {
  thread_local Scratch scratchpad;
  auto mm = primitiveFor(Key{shape, omp_get_max_threads()});
  auto& engine = cpuEngine();
  memory aMem(mm->a, engine, const_cast<void*>(a));
  memory bMem(mm->b, engine, const_cast<void*>(b));
  memory cMem(mm->c, engine, c);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, aMem}, {DNNL_ARG_WEIGHTS, bMem}, {DNNL_ARG_DST, cMem}};
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(mm->bias, engine, const_cast<float*>(bias)));
  const size_t scratchBytes = mm->scratchpad.get_size();
  if (scratchBytes > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(mm->scratchpad, engine, scratchpad.get<uint8_t>(scratchBytes)));
  }
  auto& stream = cpuStream();
  mm->primitive.execute(stream, args);
  stream.wait();
}

}  // namespace tuneloop
