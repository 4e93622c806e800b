# BACKLIGHT_CUDA=AUTO|ON|OFF. AUTO turns the CUDA backend on when nvcc, cuBLAS and cuDNN are
# all found; ON requires them (configuration fails naming what is missing). The backend only
# needs to compile and link on machines without a GPU; tests that need a device skip at run time.
set(BACKLIGHT_CUDA "AUTO" CACHE STRING "CUDA backend: AUTO, ON or OFF")
set_property(CACHE BACKLIGHT_CUDA PROPERTY STRINGS AUTO ON OFF)

set(BACKLIGHT_HAVE_CUDA OFF)
if(NOT BACKLIGHT_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  set(_missing "")
  if(NOT CMAKE_CUDA_COMPILER)
    list(APPEND _missing "nvcc (CUDA Toolkit)")
  else()
    enable_language(CUDA)
    find_package(CUDAToolkit QUIET)
    if(NOT TARGET CUDA::cublas)
      list(APPEND _missing "cuBLAS")
    endif()
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/include /usr/include/x86_64-linux-gnu)
    if(NOT CUDNN_LIBRARY OR NOT CUDNN_INCLUDE_DIR)
      list(APPEND _missing "cuDNN (libcudnn9-dev-cuda-13 or NVIDIA's cudnn package)")
    endif()
  endif()
  if(_missing STREQUAL "")
    set(BACKLIGHT_HAVE_CUDA ON)
  elseif(BACKLIGHT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "BACKLIGHT_CUDA=ON but these are missing: ${_missing}")
  else()
    message(STATUS "backlight: CUDA backend off (missing: ${_missing})")
  endif()
endif()

if(BACKLIGHT_HAVE_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "52")
    set(CMAKE_CUDA_ARCHITECTURES 80)
  endif()
  message(STATUS "backlight: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${CUDNN_LIBRARY})")
endif()

# backlight_cuda_library(name folder [deps...]): a static library of the folder's *.cu files (not
# recursive), linked with the CUDA runtime, cuBLAS and cuDNN. Used for engine/cuda/ (the engine's
# backend: backlight_engine_cuda) and kernels/ (the fused attribution kernels: backlight_kernels_cuda).
function(backlight_cuda_library name folder)
  file(GLOB _cuda_src CONFIGURE_DEPENDS ${folder}/*.cu)
  add_library(${name} STATIC ${_cuda_src})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR} ${CUDNN_INCLUDE_DIR})
  target_link_libraries(${name} PUBLIC CUDA::cudart CUDA::cublas ${CUDNN_LIBRARY} ${ARGN})
  set_target_properties(${name} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
  # CMake 3.25 has no CUDA20 dialect for nvcc 13 (it would inherit CXX_STANDARD 20 and fail), so
  # the CUDA sources are C++17 (the headers they include keep to C++17 for that reason).
  set_target_properties(${name} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
  target_compile_definitions(${name} PUBLIC BACKLIGHT_HAVE_CUDA=1)
endfunction()
