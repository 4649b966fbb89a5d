// N-API registration. The TypeScript wrapper (src/engine/backends/native.ts) validates every
// argument before calling in; the checks here repeat the ones that guard memory safety, so that
// a direct call with wrong arguments throws instead of crashing the process.
#include <napi.h>
#include <omp.h>

#include <cmath>
#include <initializer_list>
#include <new>
#include <string>
#include <tuple>

#include "capabilities.h"
#include "kernels.h"
#include "nf4.h"

namespace tuneloop {

namespace {

// Distinguishes our weight externals from any other addon's.
constexpr napi_type_tag kWeightTag = {0x7475'6e65'6c6f'6f70ULL, 0x5765'6967'6874'0001ULL};

template <typename T>
struct TypedArg {
  T* data;
  size_t length;
};

template <typename T>
TypedArg<T> typedArg(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type type, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " has the wrong typed-array type");
  }
  auto array = v.As<Napi::TypedArrayOf<T>>();
  return {array.Data(), array.ElementLength()};
}

// A fresh float32 output array, about to be written in full for the first time.
TypedArg<float> outputArg(const Napi::CallbackInfo& info, size_t index) {
  auto out = typedArg<float>(info, index, napi_float32_array, "out");
  adviseHugePages(out.data, out.length * sizeof(float));
  return out;
}

int64_t intArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min) {
  Napi::Value v = info[index];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= 9007199254740991.0) || std::floor(d) != d) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int64_t>(d);
}

// Product of validated non-negative sizes; a product past int64 cannot match any real length.
int64_t product(const Napi::CallbackInfo& info, std::initializer_list<int64_t> factors) {
  int64_t result = 1;
  for (int64_t f : factors) {
    if (__builtin_mul_overflow(result, f, &result)) throw Napi::RangeError::New(info.Env(), "sizes overflow");
  }
  return result;
}

void requireLength(const Napi::CallbackInfo& info, size_t actual, int64_t expected, const char* name) {
  if (static_cast<int64_t>(actual) != expected) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " has " + std::to_string(actual) + " elements, expected " +
                                                std::to_string(expected));
  }
}

const PackedWeight& weightArg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value v = info[index];
  if (!v.IsExternal() || !v.As<Napi::External<PackedWeight>>().CheckTypeTag(&kWeightTag)) {
    throw Napi::TypeError::New(info.Env(), "weight is not a tuneloop native weight handle");
  }
  return *v.As<Napi::External<PackedWeight>>().Data();
}

// prepareWeight(data: Float32Array | Uint16Array, srcDtype: 0 f32 | 1 bf16 | 2 f16, out, in, dstDtype) → handle
Napi::Value PrepareWeight(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t srcCode = intArg(info, 1, "srcDtype", 0);
  const int64_t out = intArg(info, 2, "outFeatures", 1);
  const int64_t in = intArg(info, 3, "inFeatures", 1);
  const int64_t dstCode = intArg(info, 4, "dtype", 0);
  if (srcCode > 2 || dstCode > 1) throw Napi::RangeError::New(env, "unknown dtype code");
  const auto srcType = static_cast<DType>(srcCode);
  const void* src;
  if (srcType == DType::F32) {
    auto data = typedArg<float>(info, 0, napi_float32_array, "data");
    requireLength(info, data.length, product(info, {out, in}), "data");
    src = data.data;
  } else {
    auto data = typedArg<uint16_t>(info, 0, napi_uint16_array, "data");
    requireLength(info, data.length, product(info, {out, in}), "data");
    src = data.data;
  }
  PackedWeight* w = prepareWeight(src, srcType, out, in, static_cast<DType>(dstCode));
  const auto bytes = static_cast<int64_t>(w->bytes);
  auto handle = Napi::External<PackedWeight>::New(env, w, [bytes](Napi::Env finalizeEnv, PackedWeight* weight) {
    Napi::MemoryManagement::AdjustExternalMemory(finalizeEnv, -bytes);
    delete weight;
  });
  handle.TypeTag(&kWeightTag);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return handle;
}

Napi::Value WeightBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(weightArg(info, 0).bytes));
}

// Distinguishes NF4 weight externals from packed dense ones.
constexpr napi_type_tag kNf4WeightTag = {0x7475'6e65'6c6f'6f70ULL, 0x4e46'3457'6569'0001ULL};

const Nf4Weight& nf4WeightArg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value v = info[index];
  if (!v.IsExternal() || !v.As<Napi::External<Nf4Weight>>().CheckTypeTag(&kNf4WeightTag)) {
    throw Napi::TypeError::New(info.Env(), "weight is not a tuneloop native NF4 weight handle");
  }
  return *v.As<Napi::External<Nf4Weight>>().Data();
}

// prepareNf4Weight(packed: Uint8Array, out, in, dtype, absmax: Float32Array | null,
//                  absmaxCodes: Uint8Array | null, code: Float32Array | null, absmax2: Float32Array | null, offset)
Napi::Value PrepareNf4Weight(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t out = intArg(info, 1, "outFeatures", 1);
  const int64_t in = intArg(info, 2, "inFeatures", 1);
  const int64_t dtype = intArg(info, 3, "dtype", 0);
  if (dtype > 1) throw Napi::RangeError::New(env, "unknown dtype code");
  const int64_t count = product(info, {out, in});
  const int64_t blocks = (count + kNf4Block - 1) / kNf4Block;
  auto packed = typedArg<uint8_t>(info, 0, napi_uint8_array, "packed");
  requireLength(info, packed.length, (count + 1) / 2, "packed");
  const float* absmax = nullptr;
  const uint8_t* codes = nullptr;
  const float* code = nullptr;
  const float* absmax2 = nullptr;
  double offset = 0;
  if (info[5].IsNull()) {
    auto a = typedArg<float>(info, 4, napi_float32_array, "absmax");
    requireLength(info, a.length, blocks, "absmax");
    absmax = a.data;
  } else {
    auto q = typedArg<uint8_t>(info, 5, napi_uint8_array, "absmaxCodes");
    auto c = typedArg<float>(info, 6, napi_float32_array, "code");
    auto a2 = typedArg<float>(info, 7, napi_float32_array, "absmax2");
    requireLength(info, q.length, blocks, "absmaxCodes");
    requireLength(info, c.length, 256, "code");
    requireLength(info, a2.length, (blocks + kNf4DoubleQuantBlock - 1) / kNf4DoubleQuantBlock, "absmax2");
    if (!info[8].IsNumber()) throw Napi::TypeError::New(env, "offset must be a number");
    offset = info[8].As<Napi::Number>().DoubleValue();
    codes = q.data;
    code = c.data;
    absmax2 = a2.data;
  }
  Nf4Weight* w = prepareNf4Weight(packed.data, out, in, static_cast<DType>(dtype), absmax, codes, code, absmax2,
                                  static_cast<float>(offset));
  const auto bytes = static_cast<int64_t>(w->bytes);
  auto handle = Napi::External<Nf4Weight>::New(env, w, [bytes](Napi::Env finalizeEnv, Nf4Weight* weight) {
    Napi::MemoryManagement::AdjustExternalMemory(finalizeEnv, -bytes);
    delete weight;
  });
  handle.TypeTag(&kNf4WeightTag);
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return handle;
}

Napi::Value Nf4WeightBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(nf4WeightArg(info, 0).bytes));
}




// The ops that take a weight, written once for both kinds (dense PackedWeight, NF4 Nf4Weight):
// `weightAt` reads the weight argument, `kernel` runs the op on it.
template <typename W>
using WeightReader = const W& (*)(const Napi::CallbackInfo&, size_t);

// linear(x, rows, weight, bias | null, out)
template <typename W, WeightReader<W> weightAt, void (*kernel)(const float*, int64_t, const W&, const float*, float*)>
Napi::Value LinearOp(const Napi::CallbackInfo& info) {
  const int64_t rows = intArg(info, 1, "rows", 0);
  const W& w = weightAt(info, 2);
  auto x = typedArg<float>(info, 0, napi_float32_array, "x");
  requireLength(info, x.length, product(info, {rows, w.inFeatures}), "x");
  const float* bias = nullptr;
  if (!info[3].IsNull()) {
    auto b = typedArg<float>(info, 3, napi_float32_array, "bias");
    requireLength(info, b.length, w.outFeatures, "bias");
    bias = b.data;
  }
  auto out = outputArg(info, 4);
  requireLength(info, out.length, product(info, {rows, w.outFeatures}), "out");
  OneThreadForSmallWork threads(product(info, {rows, w.inFeatures, w.outFeatures}));
  kernel(x.data, rows, w, bias, out.data);
  return info.Env().Undefined();
}

// embedding(table, ids, out)
template <typename W, WeightReader<W> weightAt, void (*kernel)(const W&, const int32_t*, int64_t, float*)>
Napi::Value EmbeddingOp(const Napi::CallbackInfo& info) {
  const W& table = weightAt(info, 0);
  auto ids = typedArg<int32_t>(info, 1, napi_int32_array, "ids");
  auto out = outputArg(info, 2);
  requireLength(info, out.length, product(info, {static_cast<int64_t>(ids.length), table.inFeatures}), "out");
  for (size_t i = 0; i < ids.length; i++) {
    if (ids.data[i] < 0 || ids.data[i] >= table.outFeatures) {
      throw Napi::RangeError::New(info.Env(), "ids[" + std::to_string(i) + "] is outside the table");
    }
  }
  kernel(table, ids.data, static_cast<int64_t>(ids.length), out.data);
  return info.Env().Undefined();
}



// layerNorm(x, gamma, beta, eps, out)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  auto x = typedArg<float>(info, 0, napi_float32_array, "x");
  auto gamma = typedArg<float>(info, 1, napi_float32_array, "gamma");
  auto beta = typedArg<float>(info, 2, napi_float32_array, "beta");
  auto out = outputArg(info, 4);
  if (!info[3].IsNumber()) throw Napi::TypeError::New(info.Env(), "eps must be a number");
  const double eps = info[3].As<Napi::Number>().DoubleValue();
  const int64_t dim = static_cast<int64_t>(gamma.length);
  if (dim == 0 || x.length % gamma.length != 0) throw Napi::RangeError::New(info.Env(), "x does not split into rows of gamma.length");
  requireLength(info, beta.length, dim, "beta");
  requireLength(info, out.length, static_cast<int64_t>(x.length), "out");
  layernormForward(x.data, static_cast<int64_t>(x.length) / dim, dim, gamma.data, beta.data, eps, out.data);
  return info.Env().Undefined();
}

// gelu(x, out)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  auto x = typedArg<float>(info, 0, napi_float32_array, "x");
  auto out = outputArg(info, 1);
  requireLength(info, out.length, static_cast<int64_t>(x.length), "out");
  geluForward(x.data, static_cast<int64_t>(x.length), out.data);
  return info.Env().Undefined();
}

// addInPlace(dst, src)
Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  auto dst = typedArg<float>(info, 0, napi_float32_array, "dst");
  auto src = typedArg<float>(info, 1, napi_float32_array, "src");
  requireLength(info, src.length, static_cast<int64_t>(dst.length), "src");
  addInPlace(dst.data, src.data, static_cast<int64_t>(dst.length));
  return info.Env().Undefined();
}

// attention(qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, pastLen, mask, slopes, out)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  AttentionShape s{};
  s.batch = intArg(info, 1, "batch", 1);
  s.queryLen = intArg(info, 2, "queryLen", 1);
  s.heads = intArg(info, 3, "heads", 1);
  s.headDim = intArg(info, 4, "headDim", 1);
  s.capacity = intArg(info, 7, "capacity", 1);
  s.pastLen = intArg(info, 8, "pastLen", 0);
  const int64_t keyLen = s.pastLen + s.queryLen;
  if (keyLen > s.capacity) throw Napi::RangeError::New(info.Env(), "pastLen + queryLen exceeds capacity");
  auto qkv = typedArg<float>(info, 0, napi_float32_array, "qkv");
  auto keys = typedArg<float>(info, 5, napi_float32_array, "keyCache");
  auto values = typedArg<float>(info, 6, napi_float32_array, "valueCache");
  auto mask = typedArg<uint8_t>(info, 9, napi_uint8_array, "mask");
  auto slopes = typedArg<float>(info, 10, napi_float32_array, "slopes");
  auto out = outputArg(info, 11);
  requireLength(info, qkv.length, product(info, {s.batch, s.queryLen, s.heads, 3, s.headDim}), "qkv");
  requireLength(info, keys.length, product(info, {s.batch, s.heads, s.capacity, s.headDim}), "keyCache");
  requireLength(info, values.length, product(info, {s.batch, s.heads, s.capacity, s.headDim}), "valueCache");
  requireLength(info, mask.length, product(info, {s.batch, keyLen}), "mask");
  requireLength(info, slopes.length, s.heads, "slopes");
  requireLength(info, out.length, product(info, {s.batch, s.queryLen, s.heads, s.headDim}), "out");
  attentionForward(s, qkv.data, keys.data, values.data, mask.data, slopes.data, out.data);
  return info.Env().Undefined();
}

// tokenLogProbs(logits, vocab, targets, logProbsOut, isGreedyOut)
Napi::Value TokenLogProbs(const Napi::CallbackInfo& info) {
  const int64_t vocab = intArg(info, 1, "vocab", 1);
  auto logits = typedArg<float>(info, 0, napi_float32_array, "logits");
  auto targets = typedArg<int32_t>(info, 2, napi_int32_array, "targets");
  auto logProbs = typedArg<float>(info, 3, napi_float32_array, "logProbs");
  auto greedy = typedArg<uint8_t>(info, 4, napi_uint8_array, "isGreedy");
  const auto rows = static_cast<int64_t>(targets.length);
  requireLength(info, logits.length, product(info, {rows, vocab}), "logits");
  requireLength(info, logProbs.length, rows, "logProbs");
  requireLength(info, greedy.length, rows, "isGreedy");
  for (int64_t r = 0; r < rows; r++) {
    if (targets.data[r] < 0 || targets.data[r] >= vocab) {
      throw Napi::RangeError::New(info.Env(), "targets[" + std::to_string(r) + "] is outside the vocabulary");
    }
  }
  tokenLogProbsForward(logits.data, rows, vocab, targets.data, logProbs.data, greedy.data);
  return info.Env().Undefined();
}

// ---- Backward ops (src/engine/gradients.ts). ----

double numberArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(info.Env(), std::string(name) + " must be finite");
  return d;
}

bool boolArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// Inputs read while an output is written must not share memory with it.
void requireDisjoint(const Napi::CallbackInfo& info, const void* a, size_t aBytes, const void* b, size_t bBytes,
                     const char* name) {
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  if (aBytes > 0 && bBytes > 0 && pa < pb + bBytes && pb < pa + aBytes) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " overlaps another argument");
  }
}

// matmul(a, b, m, k, n, transposeA, transposeB, out)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const int64_t m = intArg(info, 2, "m", 1);
  const int64_t k = intArg(info, 3, "k", 0);
  const int64_t n = intArg(info, 4, "n", 1);
  const bool ta = boolArg(info, 5, "transposeA");
  const bool tb = boolArg(info, 6, "transposeB");
  auto a = typedArg<float>(info, 0, napi_float32_array, "a");
  auto b = typedArg<float>(info, 1, napi_float32_array, "b");
  auto out = outputArg(info, 7);
  requireLength(info, a.length, product(info, {m, k}), "a");
  requireLength(info, b.length, product(info, {k, n}), "b");
  requireLength(info, out.length, product(info, {m, n}), "out");
  requireDisjoint(info, a.data, a.length * 4, out.data, out.length * 4, "a");
  requireDisjoint(info, b.data, b.length * 4, out.data, out.length * 4, "b");
  OneThreadForSmallWork threads(product(info, {m, k, n}));
  matmulForward(a.data, b.data, m, k, n, ta, tb, out.data);
  return info.Env().Undefined();
}


// linearBackwardInput(dy, rows, weight, out)
template <typename W, WeightReader<W> weightAt, void (*kernel)(const float*, int64_t, const W&, float*)>
Napi::Value LinearBackwardInputOp(const Napi::CallbackInfo& info) {
  const int64_t rows = intArg(info, 1, "rows", 0);
  const W& w = weightAt(info, 2);
  auto dy = typedArg<float>(info, 0, napi_float32_array, "dy");
  auto out = outputArg(info, 3);
  requireLength(info, dy.length, product(info, {rows, w.outFeatures}), "dy");
  requireLength(info, out.length, product(info, {rows, w.inFeatures}), "out");
  requireDisjoint(info, dy.data, dy.length * 4, out.data, out.length * 4, "dy");
  OneThreadForSmallWork threads(product(info, {rows, w.inFeatures, w.outFeatures}));
  kernel(dy.data, rows, w, out.data);
  return info.Env().Undefined();
}

// sumRows(dy, rows, cols, out)
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  const int64_t rows = intArg(info, 1, "rows", 0);
  const int64_t cols = intArg(info, 2, "cols", 0);
  auto dy = typedArg<float>(info, 0, napi_float32_array, "dy");
  auto out = typedArg<float>(info, 3, napi_float32_array, "out");
  requireLength(info, dy.length, product(info, {rows, cols}), "dy");
  requireLength(info, out.length, cols, "out");
  requireDisjoint(info, dy.data, dy.length * 4, out.data, out.length * 4, "dy");
  sumRows(dy.data, rows, cols, out.data);
  return info.Env().Undefined();
}

// layerNormBackward(x, gamma, dy, eps, dx, dGamma, dBeta)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  auto x = typedArg<float>(info, 0, napi_float32_array, "x");
  auto gamma = typedArg<float>(info, 1, napi_float32_array, "gamma");
  auto dy = typedArg<float>(info, 2, napi_float32_array, "dy");
  const double eps = numberArg(info, 3, "eps");
  if (!(eps >= 0)) throw Napi::RangeError::New(info.Env(), "eps must be >= 0");
  auto dx = outputArg(info, 4);
  auto dGamma = typedArg<float>(info, 5, napi_float32_array, "dGamma");
  auto dBeta = typedArg<float>(info, 6, napi_float32_array, "dBeta");
  const int64_t dim = static_cast<int64_t>(gamma.length);
  if (dim == 0 || x.length % gamma.length != 0) throw Napi::RangeError::New(info.Env(), "x does not split into rows of gamma.length");
  requireLength(info, dy.length, static_cast<int64_t>(x.length), "dy");
  requireLength(info, dx.length, static_cast<int64_t>(x.length), "dx");
  requireLength(info, dGamma.length, dim, "dGamma");
  requireLength(info, dBeta.length, dim, "dBeta");
  for (auto [p, bytes, name] : {std::tuple<const void*, size_t, const char*>{x.data, x.length * 4, "x"},
                                {gamma.data, gamma.length * 4, "gamma"},
                                {dy.data, dy.length * 4, "dy"}}) {
    requireDisjoint(info, p, bytes, dx.data, dx.length * 4, name);
    requireDisjoint(info, p, bytes, dGamma.data, dGamma.length * 4, name);
    requireDisjoint(info, p, bytes, dBeta.data, dBeta.length * 4, name);
  }
  requireDisjoint(info, dx.data, dx.length * 4, dGamma.data, dGamma.length * 4, "dx");
  requireDisjoint(info, dx.data, dx.length * 4, dBeta.data, dBeta.length * 4, "dx");
  requireDisjoint(info, dGamma.data, dGamma.length * 4, dBeta.data, dBeta.length * 4, "dGamma");
  layernormBackward(x.data, dy.data, static_cast<int64_t>(x.length) / dim, dim, gamma.data, eps, dx.data, dGamma.data,
                    dBeta.data);
  return info.Env().Undefined();
}

// geluBackward(x, dy, out)
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  auto x = typedArg<float>(info, 0, napi_float32_array, "x");
  auto dy = typedArg<float>(info, 1, napi_float32_array, "dy");
  auto out = outputArg(info, 2);
  requireLength(info, dy.length, static_cast<int64_t>(x.length), "dy");
  requireLength(info, out.length, static_cast<int64_t>(x.length), "out");
  geluBackward(x.data, dy.data, static_cast<int64_t>(x.length), out.data);
  return info.Env().Undefined();
}

// attentionBackward(qkv, batch, queryLen, heads, headDim, keyCache, valueCache, capacity, mask, slopes, dContext, out)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  AttentionShape s{};
  s.batch = intArg(info, 1, "batch", 1);
  s.queryLen = intArg(info, 2, "queryLen", 1);
  s.heads = intArg(info, 3, "heads", 1);
  s.headDim = intArg(info, 4, "headDim", 1);
  s.capacity = intArg(info, 7, "capacity", 1);
  s.pastLen = 0;
  if (s.queryLen > s.capacity) throw Napi::RangeError::New(info.Env(), "queryLen exceeds capacity");
  auto qkv = typedArg<float>(info, 0, napi_float32_array, "qkv");
  auto keys = typedArg<float>(info, 5, napi_float32_array, "keyCache");
  auto values = typedArg<float>(info, 6, napi_float32_array, "valueCache");
  auto mask = typedArg<uint8_t>(info, 8, napi_uint8_array, "mask");
  auto slopes = typedArg<float>(info, 9, napi_float32_array, "slopes");
  auto dContext = typedArg<float>(info, 10, napi_float32_array, "dContext");
  auto out = outputArg(info, 11);
  const int64_t qkvLength = product(info, {s.batch, s.queryLen, s.heads, 3, s.headDim});
  const int64_t cacheLength = product(info, {s.batch, s.heads, s.capacity, s.headDim});
  requireLength(info, qkv.length, qkvLength, "qkv");
  requireLength(info, keys.length, cacheLength, "keyCache");
  requireLength(info, values.length, cacheLength, "valueCache");
  requireLength(info, mask.length, product(info, {s.batch, s.queryLen}), "mask");
  requireLength(info, slopes.length, s.heads, "slopes");
  requireLength(info, dContext.length, product(info, {s.batch, s.queryLen, s.heads, s.headDim}), "dContext");
  requireLength(info, out.length, qkvLength, "out");
  // The caches are written while everything else is read, and out is written.
  const size_t cacheBytes = static_cast<size_t>(cacheLength) * 4;
  for (auto [p, bytes, name] : {std::tuple<const void*, size_t, const char*>{qkv.data, qkv.length * 4, "qkv"},
                                {mask.data, mask.length, "mask"},
                                {slopes.data, slopes.length * 4, "slopes"},
                                {dContext.data, dContext.length * 4, "dContext"},
                                {out.data, out.length * 4, "out"}}) {
    requireDisjoint(info, keys.data, cacheBytes, p, bytes, "keyCache");
    requireDisjoint(info, values.data, cacheBytes, p, bytes, "valueCache");
  }
  requireDisjoint(info, keys.data, cacheBytes, values.data, cacheBytes, "keyCache");
  for (auto [p, bytes, name] : {std::tuple<const void*, size_t, const char*>{qkv.data, qkv.length * 4, "qkv"},
                                {mask.data, mask.length, "mask"},
                                {slopes.data, slopes.length * 4, "slopes"},
                                {dContext.data, dContext.length * 4, "dContext"}}) {
    requireDisjoint(info, out.data, out.length * 4, p, bytes, name);
  }
  attentionBackward(s, qkv.data, keys.data, values.data, mask.data, slopes.data, dContext.data, out.data);
  return info.Env().Undefined();
}

// crossEntropy(logits, vocab, targets, scale, dLogits) → [lossSum, counted]
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const int64_t vocab = intArg(info, 1, "vocab", 1);
  auto logits = typedArg<float>(info, 0, napi_float32_array, "logits");
  auto targets = typedArg<int32_t>(info, 2, napi_int32_array, "targets");
  const double scale = numberArg(info, 3, "scale");
  auto out = outputArg(info, 4);
  const auto rows = static_cast<int64_t>(targets.length);
  requireLength(info, logits.length, product(info, {rows, vocab}), "logits");
  requireLength(info, out.length, product(info, {rows, vocab}), "dLogits");
  // dLogits may be the logits array itself (the kernel finishes reading a row before writing it), but
  // not a partial overlap.
  if (logits.data != out.data) requireDisjoint(info, logits.data, logits.length * 4, out.data, out.length * 4, "logits");
  requireDisjoint(info, targets.data, targets.length * 4, out.data, out.length * 4, "targets");
  for (int64_t r = 0; r < rows; r++) {
    const int32_t t = targets.data[r];
    if (t != -100 && (t < 0 || t >= vocab)) {
      throw Napi::RangeError::New(info.Env(), "targets[" + std::to_string(r) + "] is outside the vocabulary and not -100");
    }
  }
  int64_t counted = 0;
  const double loss = crossEntropy(logits.data, rows, vocab, targets.data, static_cast<float>(scale), out.data, &counted);
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), loss));
  result.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(counted)));
  return result;
}

// adamwStep(param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay)
Napi::Value AdamwStep(const Napi::CallbackInfo& info) {
  auto param = typedArg<float>(info, 0, napi_float32_array, "param");
  auto grad = typedArg<float>(info, 1, napi_float32_array, "grad");
  auto m = typedArg<float>(info, 2, napi_float32_array, "m");
  auto v = typedArg<float>(info, 3, napi_float32_array, "v");
  const auto n = static_cast<int64_t>(param.length);
  requireLength(info, grad.length, n, "grad");
  requireLength(info, m.length, n, "m");
  requireLength(info, v.length, n, "v");
  const size_t bytes = param.length * 4;
  requireDisjoint(info, param.data, bytes, grad.data, bytes, "grad");
  requireDisjoint(info, param.data, bytes, m.data, bytes, "m");
  requireDisjoint(info, param.data, bytes, v.data, bytes, "v");
  requireDisjoint(info, grad.data, bytes, m.data, bytes, "m");
  requireDisjoint(info, grad.data, bytes, v.data, bytes, "v");
  requireDisjoint(info, m.data, bytes, v.data, bytes, "v");
  AdamWOptions o{};
  o.step = intArg(info, 4, "step", 1);
  o.lr = numberArg(info, 5, "lr");
  o.beta1 = numberArg(info, 6, "beta1");
  o.beta2 = numberArg(info, 7, "beta2");
  o.eps = numberArg(info, 8, "eps");
  o.weightDecay = numberArg(info, 9, "weightDecay");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw Napi::RangeError::New(info.Env(), "beta1 must be in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw Napi::RangeError::New(info.Env(), "beta2 must be in [0, 1)");
  adamwStep(param.data, grad.data, m.data, v.data, n, o);
  return info.Env().Undefined();
}

Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  const double seconds = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0.5;
  return Napi::Number::New(info.Env(), fmaPeakGflops(seconds));
}

Napi::Value Bf16DotPeak(const Napi::CallbackInfo& info) {
  const double seconds = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0.5;
  return Napi::Number::New(info.Env(), bf16DotPeakGflops(seconds));
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }

// setThreads(n): the OpenMP team size for calls from this JS thread, our kernels' and oneDNN's
// (its primitives are cached per thread count). 1024 bounds a typo, not a machine.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int64_t threads = intArg(info, 0, "threads", 1);
  if (threads > 1024) throw Napi::RangeError::New(info.Env(), "threads must be at most 1024");
  omp_set_num_threads(static_cast<int>(threads));
  return info.Env().Undefined();
}

// capabilities() → { isa, onednnIsa, bf16Matmul }: what the kernels were built for and which path
// bf16 weights take (see capabilities.h).
Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("isa", kernelIsa());
  result.Set("onednnIsa", onednnIsa());
  result.Set("bf16Matmul", bf16MatmulPath());
  return result;
}

// Converts C++ failures (oneDNN errors, allocation failures) into JS exceptions; letting them
// cross the N-API boundary would terminate the process.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what() + " (status " + std::to_string(e.status) + ")");
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "tuneloop native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("tuneloop native: ") + e.what());
  }
}

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
void exportFunction(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, guarded<Fn>, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exportFunction<PrepareWeight>(env, exports, "prepareWeight");
  exportFunction<WeightBytes>(env, exports, "weightBytes");
  exportFunction<LinearOp<PackedWeight, weightArg, linearForward>>(env, exports, "linear");
  exportFunction<EmbeddingOp<PackedWeight, weightArg, embeddingForward>>(env, exports, "embedding");
  exportFunction<LayerNorm>(env, exports, "layerNorm");
  exportFunction<Gelu>(env, exports, "gelu");
  exportFunction<AddInPlace>(env, exports, "addInPlace");
  exportFunction<Attention>(env, exports, "attention");
  exportFunction<TokenLogProbs>(env, exports, "tokenLogProbs");
  exportFunction<Matmul>(env, exports, "matmul");
  exportFunction<LinearBackwardInputOp<PackedWeight, weightArg, linearBackwardInput>>(env, exports, "linearBackwardInput");
  exportFunction<SumRows>(env, exports, "sumRows");
  exportFunction<LayerNormBackward>(env, exports, "layerNormBackward");
  exportFunction<GeluBackward>(env, exports, "geluBackward");
  exportFunction<AttentionBackward>(env, exports, "attentionBackward");
  exportFunction<CrossEntropy>(env, exports, "crossEntropy");
  exportFunction<AdamwStep>(env, exports, "adamwStep");
  exportFunction<FmaPeak>(env, exports, "fmaPeakGflops");
  exportFunction<Bf16DotPeak>(env, exports, "bf16DotPeakGflops");
  exportFunction<Threads>(env, exports, "threads");
  exportFunction<SetThreads>(env, exports, "setThreads");
  exportFunction<Capabilities>(env, exports, "capabilities");
  exportFunction<PrepareNf4Weight>(env, exports, "prepareNf4Weight");
  exportFunction<Nf4WeightBytes>(env, exports, "nf4WeightBytes");
  exportFunction<LinearOp<Nf4Weight, nf4WeightArg, nf4LinearForward>>(env, exports, "nf4Linear");
  exportFunction<EmbeddingOp<Nf4Weight, nf4WeightArg, nf4EmbeddingForward>>(env, exports, "nf4Embedding");
  exportFunction<LinearBackwardInputOp<Nf4Weight, nf4WeightArg, nf4LinearBackwardInput>>(env, exports, "nf4LinearBackwardInput");
  return exports;
}

}  // namespace

}  // namespace tuneloop

Napi::Object InitTuneloopNative(Napi::Env env, Napi::Object exports) { return tuneloop::Init(env, exports); }

NODE_API_MODULE(tuneloop_native, InitTuneloopNative)
