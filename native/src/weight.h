// A weight prepared for compute: the [out, in] checkpoint matrix W, viewed as oneDNN's K x N
// matmul operand (K = in, N = out), converted to the compute type and packed once into the blocked
// layout oneDNN's matmul prefers. Only the packed copy is kept, so the same buffer serves
// linear() and, through per-element offsets, embedding() row gathers (BLOOM ties its embedding
// table to lm_head, and a second copy of that 250880 x 1024 matrix would cost 0.5-1 GB).
#pragma once

#include <cstdint>
#include <dnnl.hpp>
#include <vector>

#include "common.h"

namespace tuneloop {

// Packed layouts with a hand-written small-batch kernel (gemv.cc). Both store each block of 64
// output features as one contiguous run over K, so a decoding step streams the weight once.
enum class GemvLayout {
  None,
  F32Ba16a64b,     // per 64-column block: [K][64] floats
  Bf16Ba16a64b2a,  // per 64-column block: [K/2][64][2] bf16 (pairs along K, for vdpbf16ps)
};

struct PackedWeight {
  int64_t outFeatures = 0;  // N
  int64_t inFeatures = 0;   // K
  DType dtype = DType::F32;  // F32 or BF16
  dnnl::memory::desc desc;   // layout of the K x N operand
  AlignedBuffer data;
  size_t bytes = 0;
  // Element offset of W[n][k] is kOffsets[k] + columnOffset(n): blocked layouts are separable.
  std::vector<int64_t> kOffsets;
  GemvLayout gemv = GemvLayout::None;
  int64_t paddedK = 0;  // K rounded up to the layout's K block

  int64_t columnOffset(int64_t n) const;
};

// Converts and packs `out x in` source values of type `srcType` (row-major [out, in]) into a
// weight computed at `dstType` (F32 or BF16). Without a oneDNN bf16 matmul (capabilities.h), a bf16
// weight is packed in the Bf16Ba16a64b2a layout, which the gemv kernels and widenBf16Columns read.
PackedWeight* prepareWeight(const void* src, DType srcType, int64_t out, int64_t in, DType dstType);

// Widens output features n0 .. n0 + count of a Bf16Ba16a64b2a weight to float32, as the plain
// [K][count] matrix (row k holds W[n0 .. n0 + count][k]); n0 must be a multiple of 64. The
// slabs of the bf16-as-f32 matmuls.
void widenBf16Columns(const PackedWeight& w, int64_t n0, int64_t count, float* dst);

}  // namespace tuneloop
