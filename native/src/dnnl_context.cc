#include "dnnl_context.h"

namespace tuneloop {

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN streams are not meant to be shared between threads; a JS worker thread gets its own.
dnnl::stream& cpuStream() {
  thread_local dnnl::stream stream(cpuEngine());
  return stream;
}

}  // namespace tuneloop
