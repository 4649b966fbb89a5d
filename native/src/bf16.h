// Conversions between float32, bfloat16 and float16 bit patterns. bf16 rounding is
// round-to-nearest-even on the bit pattern (as PyTorch and the TypeScript backend do), with NaN
// kept a quiet NaN; it is written as integer arithmetic so the compiler vectorizes it and
// denormals survive (the hardware vcvtneps2bf16 would flush them).
#pragma once

#include <cstdint>
#include <cstring>

namespace tuneloop {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32ToBf16(float f) {
  uint32_t x = floatBits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16ToF32(uint16_t b) { return bitsFloat(static_cast<uint32_t>(b) << 16); }

inline float roundToBf16(float f) { return bf16ToF32(f32ToBf16(f)); }

// dst[i] = src[i] rounded to bf16 and widened back to float32: the operand of the matmuls that
// compute bf16 products in float32 (exact there, as bf16 significands have 8 bits).
inline void roundToBf16Array(const float* src, float* dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    uint32_t x = floatBits(src[i]);
    uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) & 0xffff0000u;
    uint32_t nan = (x & 0xffff0000u) | 0x00400000u;
    dst[i] = bitsFloat((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
  }
}

inline float f16ToF32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return bitsFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: the value is mantissa * 2^-24, exact in float32.
    float v = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bitsFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline void f32ToBf16Array(const float* src, uint16_t* dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    uint32_t x = floatBits(src[i]);
    uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    uint32_t nan = (x >> 16) | 0x40u;
    dst[i] = static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
  }
}

inline void f16ToF32Array(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = f16ToF32(src[i]);
}

}  // namespace tuneloop
