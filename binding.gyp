{
  "targets": [
    {
      "target_name": "tuneloop_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/alloc.cc",
        "native/src/attention.cc",
        "native/src/capabilities.cc",
        "native/src/dnnl_context.cc",
        "native/src/elementwise.cc",
        "native/src/embedding.cc",
        "native/src/gelu.cc",
        "native/src/gemv.cc",
        "native/src/layernorm.cc",
        "native/src/logprobs.cc",
        "native/src/matmul.cc",
        "native/src/nf4.cc",
        "native/src/optimizer.cc",
        "native/src/peak.cc",
        "native/src/strided_matmul.cc",
        "native/src/weight.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      # -Wno-maybe-uninitialized: GCC 12 flags its own AVX-512 intrinsics (_mm512_undefined_ps).
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fexceptions", "-Wall", "-Wextra", "-Wno-maybe-uninitialized"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl", "-lgomp"]
    }
  ]
}
