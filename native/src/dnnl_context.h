// The process-wide oneDNN CPU engine and a per-thread stream.
#pragma once

#include <dnnl.hpp>

namespace tuneloop {

dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

}  // namespace tuneloop
