# The CUDA backend's own sources, run on the CPU through an emulation of CUDA (test/emulation/), so a
# machine without a GPU (CI, this project's build machine) still executes every CUDA kernel and host
# path: the self-check then tests the "device" it finds, bit for bit against the CPU backend where the
# kernels repeat its arithmetic. It needs no CUDA toolchain. What it cannot show is listed in
# test/emulation/cuda_runtime.h; real GPUs run the same self-check (worker-runtime/scripts/gpu-check).
option(MOE_CUDA_EMULATION "Test the CUDA backend's code on the CPU through an emulation of CUDA" ON)
if(MOE_CUDA_EMULATION)
  set(emulated_sources "")
  foreach(cu IN LISTS MOE_CUDA_SOURCES)
    get_filename_component(name "${cu}" NAME_WE)
    set(in "${CMAKE_CURRENT_SOURCE_DIR}/${cu}")
    set(out "${CMAKE_CURRENT_BINARY_DIR}/emulated/${name}.cpp")
    add_custom_command(OUTPUT "${out}"
      COMMAND ${CMAKE_COMMAND} -DIN=${in} -DOUT=${out} -P ${CMAKE_CURRENT_SOURCE_DIR}/test/emulation/translate.cmake
      DEPENDS "${in}" test/emulation/translate.cmake
      COMMENT "Translating ${cu} for the CUDA emulation")
    list(APPEND emulated_sources "${out}")
  endforeach()
  add_library(moe_runtime_emulated SHARED $<TARGET_OBJECTS:moe_runtime_core> ${emulated_sources}
    test/emulation/emulation.cpp)
  # The emulation's cuda_runtime.h, cuda_bf16.h and mma.h stand in for the toolkit's.
  target_include_directories(moe_runtime_emulated BEFORE PRIVATE test/emulation)
  target_include_directories(moe_runtime_emulated PUBLIC include PRIVATE src)
  # The kernels' #pragma unroll hints are for nvcc.
  target_compile_options(moe_runtime_emulated PRIVATE -O2 -march=x86-64-v3 -ffp-contract=off -Wall -Wextra
    -Wno-unknown-pragmas)
  target_compile_definitions(moe_runtime_emulated PRIVATE MOE_CUDA_EMULATION)
  moe_link_shared(moe_runtime_emulated)

  add_executable(moe_runtime_selftest_emulated $<TARGET_OBJECTS:moe_selftest_objects>)
  target_link_libraries(moe_runtime_selftest_emulated PRIVATE moe_runtime_emulated)
  add_test(NAME moe_runtime_selftest_cuda_emulated COMMAND moe_runtime_selftest_emulated)
  # The emulated device must be found and tested, and give the CPU backend's bits where its kernels
  # repeat the CPU's float32 arithmetic.
  set_tests_properties(moe_runtime_selftest_cuda_emulated PROPERTIES
    ENVIRONMENT "MOE_REQUIRE_CUDA=1;MOE_EXPECT_CPU_BITS=1")
endif()
