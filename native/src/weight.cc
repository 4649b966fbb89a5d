#include "weight.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "bf16.h"
#include "capabilities.h"
#include "dnnl_context.h"

namespace tuneloop {

namespace {

using dnnl::memory;

memory::data_type dnnlType(DType t) {
  return t == DType::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
}

// Physical offset of logical element (k, n) in a blocked 2-D memory descriptor, following
// oneDNN's own rule: inner blocks from innermost outwards, then the outer strides.
int64_t blockedOffset(const dnnl_memory_desc_t& md, int64_t k, int64_t n) {
  const auto& blk = md.format_desc.blocking;
  int64_t pos[2] = {k, n};
  int64_t offset = md.offset0;
  int64_t stride = 1;
  for (int i = blk.inner_nblks - 1; i >= 0; i--) {
    int d = blk.inner_idxs[i];
    int64_t size = blk.inner_blks[i];
    offset += (pos[d] % size) * stride;
    pos[d] /= size;
    stride *= size;
  }
  return offset + pos[0] * blk.strides[0] + pos[1] * blk.strides[1];
}

int64_t innerBlock(const dnnl_memory_desc_t& md, int dim) {
  const auto& blk = md.format_desc.blocking;
  int64_t size = 1;
  for (int i = 0; i < blk.inner_nblks; i++) {
    if (blk.inner_idxs[i] == dim) size *= blk.inner_blks[i];
  }
  return size;
}

GemvLayout detectGemvLayout(const dnnl_memory_desc_t& md, DType dtype) {
  const auto& blk = md.format_desc.blocking;
  int64_t paddedK = md.padded_dims[0];
  if (md.offset0 != 0 || blk.strides[1] != paddedK * 64) return GemvLayout::None;
  if (dtype == DType::F32 && blk.inner_nblks == 2 && blk.inner_idxs[0] == 0 && blk.inner_blks[0] == 16 &&
      blk.inner_idxs[1] == 1 && blk.inner_blks[1] == 64 && blk.strides[0] == 16 * 64) {
    return GemvLayout::F32Ba16a64b;
  }
  if (dtype == DType::BF16 && blk.inner_nblks == 3 && blk.inner_idxs[0] == 0 && blk.inner_blks[0] == 16 &&
      blk.inner_idxs[1] == 1 && blk.inner_blks[1] == 64 && blk.inner_idxs[2] == 0 && blk.inner_blks[2] == 2 &&
      blk.strides[0] == 32 * 64) {
    return GemvLayout::Bf16Ba16a64b2a;
  }
  return GemvLayout::None;
}

// The layout oneDNN's matmul wants for this weight. It does not depend on the row count
// (checked for 1..1024 rows), so one packed copy serves every batch size. A bf16 weight that oneDNN
// cannot multiply takes the layout its bf16 matmuls use where they exist (64-column blocks of K
// pairs), which the gemv kernels stream and widenBf16Columns unpacks.
memory::desc preferredLayout(int64_t out, int64_t in, DType dtype) {
  if (dtype == DType::BF16 && !onednnBf16Matmul()) {
    return memory::desc({in, out}, memory::data_type::bf16, memory::format_tag::BA16a64b2a);
  }
  const int64_t probeRows = 64;
  memory::desc src({probeRows, in}, dnnlType(dtype), memory::format_tag::ab);
  memory::desc weights({in, out}, dnnlType(dtype), memory::format_tag::any);
  memory::desc dst({probeRows, out}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), cpuEngine());
  memory::desc chosen = pd.weights_desc();
  if (chosen.data.format_kind != dnnl_blocked) {
    throw std::runtime_error("oneDNN chose a non-blocked weight layout, which tuneloop cannot index");
  }
  return chosen;
}

// Converts `count` values between element types (dst is F32 or BF16, and differs from src).
void convertSlab(const void* src, DType srcType, void* dst, DType dstType, int64_t count) {
  const int64_t chunk = 1 << 16;
  const int64_t chunks = (count + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t start = c * chunk;
    const int64_t n = std::min(chunk, count - start);
    const float* f32 = static_cast<const float*>(src) + start;
    const uint16_t* u16 = static_cast<const uint16_t*>(src) + start;
    float* toF32 = static_cast<float*>(dst) + start;
    uint16_t* toBf16 = static_cast<uint16_t*>(dst) + start;
    if (dstType == DType::BF16 && srcType == DType::F32) {
      f32ToBf16Array(f32, toBf16, n);
    } else if (dstType == DType::BF16) {  // from f16; every f16 value is exact in f32
      for (int64_t i = 0; i < n; i++) toBf16[i] = f32ToBf16(f16ToF32(u16[i]));
    } else if (srcType == DType::BF16) {
      for (int64_t i = 0; i < n; i++) toF32[i] = bf16ToF32(u16[i]);
    } else {
      f16ToF32Array(u16, toF32, n);
    }
  }
}

}  // namespace

void widenBf16Columns(const PackedWeight& w, int64_t n0, int64_t count, float* dst) {
  if (w.gemv != GemvLayout::Bf16Ba16a64b2a || n0 % 64 != 0) {
    throw std::logic_error("widenBf16Columns needs a Bf16Ba16a64b2a weight and a 64-aligned first column");
  }
  const int64_t K = w.inFeatures, pairs = (K + 1) / 2;
  const auto* data = static_cast<const uint16_t*>(w.data.get());
  // Per 64-column block, K pair p is 64 columns of (W[n][2p], W[n][2p + 1]) bf16 pairs: the low
  // half of each 32-bit pair is row 2p, the high half row 2p + 1, each widened by a shift or mask.
#pragma omp parallel for schedule(static) if (count * K > kParallelElements)
  for (int64_t p = 0; p < pairs; p++) {
    float* even = dst + 2 * p * count;
    float* odd = 2 * p + 1 < K ? even + count : nullptr;
    for (int64_t c0 = 0; c0 < count; c0 += 64) {
      const int64_t width = std::min<int64_t>(64, count - c0);
      const uint16_t* src = data + ((n0 + c0) / 64) * w.paddedK * 64 + p * 128;
      float* e = even + c0;
#pragma omp simd
      for (int64_t j = 0; j < width; j++) e[j] = bitsFloat(static_cast<uint32_t>(src[2 * j]) << 16);
      if (odd) {
        float* o = odd + c0;
#pragma omp simd
        for (int64_t j = 0; j < width; j++) o[j] = bitsFloat(static_cast<uint32_t>(src[2 * j + 1]) << 16);
      }
    }
  }
}

int64_t PackedWeight::columnOffset(int64_t n) const { return blockedOffset(desc.data, 0, n) - desc.data.offset0; }

PackedWeight* prepareWeight(const void* src, DType srcType, int64_t out, int64_t in, DType dstType) {
  auto w = std::make_unique<PackedWeight>();
  w->outFeatures = out;
  w->inFeatures = in;
  w->dtype = dstType;
  w->desc = preferredLayout(out, in, dstType);
  w->bytes = w->desc.get_size();
  // Zero-filled, as the padding must be: the matmul kernels read whole blocks.
  w->data = allocAligned(w->bytes);

  const dnnl_memory_desc_t& md = w->desc.data;
  w->paddedK = md.padded_dims[0];
  w->gemv = detectGemvLayout(md, dstType);
  w->kOffsets.resize(in);
  for (int64_t k = 0; k < in; k++) w->kOffsets[k] = blockedOffset(md, k, 0);

  // Pack in slabs of output rows (whole column blocks of the K x N view), converting each slab to
  // the compute type first, so the only full-size allocation is the packed weight itself.
  const int64_t nBlock = innerBlock(md, 1);
  const int64_t slabTarget = std::max<int64_t>(1, (int64_t{4} << 20) / in);
  const int64_t slab = std::max(nBlock, slabTarget / nBlock * nBlock);
  std::vector<uint8_t> staging;
  if (srcType != dstType) staging.resize(static_cast<size_t>(std::min(slab, out) * in) * dtypeSize(dstType));

  auto& engine = cpuEngine();
  auto& stream = cpuStream();
  for (int64_t n0 = 0; n0 < out; n0 += slab) {
    const int64_t rows = std::min(slab, out - n0);
    const void* slabSrc = static_cast<const uint8_t*>(src) + static_cast<size_t>(n0 * in) * dtypeSize(srcType);
    if (srcType != dstType) {
      convertSlab(slabSrc, srcType, staging.data(), dstType, rows * in);
      slabSrc = staging.data();
    }
    if (w->gemv == GemvLayout::Bf16Ba16a64b2a && !onednnBf16Matmul()) {
      // oneDNN 2.6's reorder into this layout without bf16 support ("simple:any") turned -0 into
      // +0; the bits are placed here instead, through the layout's separable offsets.
      const auto* values = static_cast<const uint16_t*>(slabSrc);
      auto* packed = static_cast<uint16_t*>(w->data.get());
#pragma omp parallel for schedule(static)
      for (int64_t j = 0; j < rows; j++) {
        uint16_t* column = packed + w->columnOffset(n0 + j);
        const uint16_t* row = values + j * in;
        for (int64_t k = 0; k < in; k++) column[w->kOffsets[k]] = row[k];
      }
      continue;
    }
    // The slab is rows n0..n0+rows of [out, in], i.e. the K x rows operand with strides (1, K).
    memory::desc slabDesc({in, rows}, dnnlType(dstType), memory::dims{1, in});
    memory slabMem(slabDesc, engine, const_cast<void*>(slabSrc));
    memory target(w->desc.submemory_desc({in, rows}, {0, n0}), engine, w->data.get());
    dnnl::reorder(slabMem, target).execute(stream, slabMem, target);
  }
  stream.wait();
  return w.release();
}

}  // namespace tuneloop
