# The CUDA backend. MOE_CUDA=AUTO builds it when a toolchain is found: $MOE_CUDA_ROOT/bin/nvcc
# (for example from worker-runtime/scripts/cuda-toolchain), else nvcc on PATH. The CUDA runtime is
# linked statically, so the library still loads where no CUDA is installed and then reports no device.
# The environment's MOE_CUDA_ROOT is kept in the cache, so a re-configure triggered by the build
# (which may not see the variable) keeps the same toolchain.
set(MOE_CUDA_ROOT "" CACHE PATH "CUDA toolchain root (bin/nvcc); default: the environment's MOE_CUDA_ROOT")
if(NOT "$ENV{MOE_CUDA_ROOT}" STREQUAL "")
  set(MOE_CUDA_ROOT "$ENV{MOE_CUDA_ROOT}" CACHE PATH "" FORCE)
endif()
set(MOE_CUDA_SOURCES src/cuda/attention.cu src/cuda/backend.cu src/cuda/gemm_bf16.cu src/cuda/gemm_f32.cu
  src/cuda/matrix.cu)
set(MOE_NVCC "")
if(NOT MOE_CUDA STREQUAL "OFF")
  if(MOE_CUDA_ROOT)
    if(EXISTS "${MOE_CUDA_ROOT}/bin/nvcc")
      set(MOE_NVCC "${MOE_CUDA_ROOT}/bin/nvcc")
    else()
      message(WARNING "MOE_CUDA_ROOT=${MOE_CUDA_ROOT} has no bin/nvcc")
    endif()
  else()
    find_program(MOE_NVCC_ON_PATH nvcc)
    if(MOE_NVCC_ON_PATH)
      set(MOE_NVCC "${MOE_NVCC_ON_PATH}")
    endif()
  endif()
endif()

if(MOE_NVCC)
  message(STATUS "moe_runtime: CUDA backend with ${MOE_NVCC}")
  set(CMAKE_CUDA_COMPILER "${MOE_NVCC}")
  set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}")
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
  target_sources(moe_runtime PRIVATE ${MOE_CUDA_SOURCES})
  # --fmad=false: as -ffp-contract=off for the CPU code, no a * b + c becomes an FMA behind our back, so
  # kernels that repeat the CPU backend's arithmetic (device_math.cuh) round where it rounds; their FMAs
  # are explicit fmaf. Division and square root stay IEEE (no --use_fast_math). Host code gets the CPU
  # build's warnings.
  target_compile_options(moe_runtime PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr --fmad=false
    -Xcompiler=-Wall,-Wextra>)
  # Hopper SASS, plus PTX that newer GPUs can JIT-compile.
  set_target_properties(moe_runtime PROPERTIES CUDA_ARCHITECTURES "90a-real;90-virtual" CUDA_RUNTIME_LIBRARY Static)
elseif(MOE_CUDA STREQUAL "ON")
  message(FATAL_ERROR "MOE_CUDA=ON but no CUDA toolchain was found: set MOE_CUDA_ROOT or put nvcc on PATH")
else()
  message(STATUS "moe_runtime: no CUDA toolchain found, CPU backend only")
  target_sources(moe_runtime PRIVATE src/cuda/no_cuda.cpp)
endif()
