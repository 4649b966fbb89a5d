// embedding(): row gathers from a packed weight. The table is the same packed buffer linear()
// multiplies with (BLOOM's lm_head is tied to it), so element (n, k) is found through the
// layout's separable offsets rather than a second, row-major copy.
#include "bf16.h"
#include "kernels.h"

namespace tuneloop {

void embeddingForward(const PackedWeight& table, const int32_t* ids, int64_t count, float* out) {
  const int64_t k = table.inFeatures;
  const int64_t* kOffsets = table.kOffsets.data();
#pragma omp parallel for schedule(static) if (count * k > kParallelElements)
  for (int64_t i = 0; i < count; i++) {
    const int64_t base = table.columnOffset(ids[i]);
    float* row = out + i * k;
    if (table.dtype == DType::BF16) {
      const uint16_t* data = static_cast<const uint16_t*>(table.data.get()) + base;
      for (int64_t j = 0; j < k; j++) row[j] = bf16ToF32(data[kOffsets[j]]);
    } else {
      const float* data = static_cast<const float*>(table.data.get()) + base;
      for (int64_t j = 0; j < k; j++) row[j] = data[kOffsets[j]];
    }
  }
}

}  // namespace tuneloop
