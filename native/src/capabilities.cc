#include "capabilities.h"

#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>

#include "dnnl_context.h"

namespace tuneloop {

namespace {

bool probeBf16Matmul() {
  const char* forced = std::getenv("TUNELOOP_NATIVE_BF16_PATH");
  if (forced != nullptr && std::strcmp(forced, "bf16-as-f32-slabs") == 0) return false;
  using dnnl::memory;
  try {
    memory::desc src({64, 64}, memory::data_type::bf16, memory::format_tag::ab);
    memory::desc weights({64, 64}, memory::data_type::bf16, memory::format_tag::any);
    memory::desc dst({64, 64}, memory::data_type::f32, memory::format_tag::ab);
    dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), cpuEngine());
    return true;
  } catch (const dnnl::error&) {
    return false;  // oneDNN has no implementation for this ISA (status unimplemented)
  }
}

}  // namespace

bool onednnBf16Matmul() {
  static const bool supported = probeBf16Matmul();
  return supported;
}

const char* bf16MatmulPath() { return onednnBf16Matmul() ? "onednn-bf16" : "bf16-as-f32-slabs"; }

const char* kernelIsa() {
#if defined(__AVX512BF16__)
  return "avx512_bf16";
#elif defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2";
#else
  return "scalar";
#endif
}

const char* onednnIsa() {
  using dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx512_mic: return "avx512_mic";
    case cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

}  // namespace tuneloop
