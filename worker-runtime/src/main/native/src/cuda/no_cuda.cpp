// Stand-ins for the CUDA backend when the library is built without it.
#include "internal.h"

namespace moe {

std::unique_ptr<Backend> make_cuda_backend(int) {
  fail(MOE_ERR_UNSUPPORTED, "this moe_runtime was built without the CUDA backend");
}

int cuda_device_count() { return 0; }

const char *cuda_build_info() { return ""; }

}  // namespace moe
