// Peak arithmetic throughput of this machine, the yardstick for the matmul benchmark: every
// OpenMP thread runs independent chains of vector FMAs (or bf16 dot products), enough chains to
// cover the instruction latency, so only issue width limits the rate.
#include <chrono>

#include "kernels.h"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace tuneloop {

namespace {

constexpr int kChains = 12;
constexpr int64_t kInnerIterations = 1 << 16;

template <typename Body>
double runOnAllThreads(double seconds, double flopsPerIteration, Body body) {
  double flops = 0.0;
  auto start = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : flops)
  {
    double elapsed = 0.0;
    while (elapsed < seconds) {
      body();
      flops += flopsPerIteration * kInnerIterations;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return flops / total / 1e9;
}

}  // namespace

double fmaPeakGflops(double seconds) {
#if defined(__AVX512F__) || defined(__FMA__)
#if defined(__AVX512F__)
  using Vec = __m512;
  constexpr int kLanes = 16;
  auto splat = [](float f) { return _mm512_set1_ps(f); };
  auto fma = [](Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); };
#else
  using Vec = __m256;
  constexpr int kLanes = 8;
  auto splat = [](float f) { return _mm256_set1_ps(f); };
  auto fma = [](Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); };
#endif
  return runOnAllThreads(seconds, kChains * kLanes * 2, [&] {
    Vec acc[kChains];
    for (int c = 0; c < kChains; c++) acc[c] = splat(static_cast<float>(c));
    Vec a = splat(0.999999f), b = splat(1e-7f);
    // Keep the compiler from folding the constant operands.
    asm volatile("" : "+x"(a), "+x"(b));
    for (int64_t i = 0; i < kInnerIterations; i++)
      for (int c = 0; c < kChains; c++) acc[c] = fma(acc[c], a, b);
    for (int c = 0; c < kChains; c++) asm volatile("" : : "x"(acc[c]));
  });
#else
  (void)seconds;
  return 0.0;
#endif
}

double bf16DotPeakGflops(double seconds) {
#if defined(__AVX512BF16__)
  return runOnAllThreads(seconds, kChains * 32 * 2, [] {
    __m512 acc[kChains];
    for (int c = 0; c < kChains; c++) acc[c] = _mm512_setzero_ps();
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
    asm volatile("" : "+v"(a), "+v"(b));
    for (int64_t i = 0; i < kInnerIterations; i++)
      for (int c = 0; c < kChains; c++) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
    for (int c = 0; c < kChains; c++) asm volatile("" : : "v"(acc[c]));
  });
#else
  (void)seconds;
  return 0.0;
#endif
}

}  // namespace tuneloop
