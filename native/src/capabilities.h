// What this machine's CPU and oneDNN build can do, decided once at run time, and which matmul path
// bf16 weights therefore take.
#pragma once

namespace tuneloop {

// True when oneDNN has a bf16 x bf16 -> f32 matmul here (AVX512_BF16, AMX; not plain AVX2/AVX-512
// in oneDNN 2.x). Otherwise bf16 weights stay stored as bf16 and are widened to float32 a slab at a
// time for float32 matmuls: the products of bf16 values are exact in float32, so the results are the
// same bf16 semantics (bf16 inputs and weights, float32 accumulation). Setting
// TUNELOOP_NATIVE_BF16_PATH=bf16-as-f32-slabs forces the widening path (for tests on bf16 machines).
bool onednnBf16Matmul();

// "onednn-bf16" or "bf16-as-f32-slabs", following onednnBf16Matmul().
const char* bf16MatmulPath();

// The vector ISA tuneloop's own kernels were compiled for ("avx512_bf16", "avx512", "avx2", "scalar"),
// and the one oneDNN's JIT uses on this CPU (e.g. "avx2", "avx512_core_bf16", "avx512_core_amx").
const char* kernelIsa();
const char* onednnIsa();

}  // namespace tuneloop
