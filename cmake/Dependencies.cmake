# Third-party dependencies, all from Debian packages. Nothing is downloaded at build time:
# a missing package stops configuration with the apt-get line that installs it.

function(backlight_require found package what)
  if(NOT ${found})
    message(FATAL_ERROR "backlight needs ${what}: install the Debian package '${package}' "
                        "(apt-get install ${package}), or run tools/check, which installs it.")
  endif()
endfunction()

find_package(Eigen3 3.3 QUIET NO_MODULE)
backlight_require(Eigen3_FOUND libeigen3-dev "Eigen 3 (CPU math)")

find_package(nlohmann_json 3 QUIET)
backlight_require(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann-json (JSON I/O)")

# ONNX import (models/onnx/): the ONNX C++ library (proto classes, checker, shape inference)
# and protobuf, both from Debian. The package's config exports targets onnx and onnx_proto.
find_package(Protobuf 3 QUIET)
backlight_require(Protobuf_FOUND libprotobuf-dev "protobuf (ONNX files)")
find_package(ONNX QUIET)
if(ONNX_FOUND AND NOT TARGET onnx)
  set(ONNX_FOUND FALSE)
endif()
backlight_require(ONNX_FOUND libonnx-dev "the ONNX C++ library (ONNX import)")

find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
if(STB_INCLUDE_DIR)
  set(STB_FOUND TRUE)
  add_library(backlight_stb INTERFACE)
  target_include_directories(backlight_stb SYSTEM INTERFACE ${STB_INCLUDE_DIR})
endif()
backlight_require(STB_FOUND libstb-dev "stb_image (image I/O)")

find_package(OpenMP QUIET COMPONENTS CXX)
backlight_require(OpenMP_CXX_FOUND libgomp1 "OpenMP (threads; ships with g++)")

if(BACKLIGHT_BUILD_TESTS)
  find_package(doctest QUIET)
  backlight_require(doctest_FOUND doctest-dev "doctest (unit tests)")
endif()

# Dataset-scale runs across processes and machines (tools/cluster/, docs/cluster.md): Open MPI,
# optional. AUTO (default) uses it when found; ON requires it; OFF builds single-process commands.
set(BACKLIGHT_MPI AUTO CACHE STRING "Open MPI for dataset-scale runs: AUTO (when found), ON (required), OFF")
set_property(CACHE BACKLIGHT_MPI PROPERTY STRINGS AUTO ON OFF)
set(BACKLIGHT_HAVE_MPI OFF)
if(NOT BACKLIGHT_MPI STREQUAL "OFF")
  # The C API through the C++ compiler (the project enables no C language); the deprecated MPI-2
  # C++ bindings are kept out.
  set(MPI_CXX_SKIP_MPICXX TRUE)
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(BACKLIGHT_HAVE_MPI ON)
  elseif(NOT BACKLIGHT_MPI STREQUAL "AUTO")
    backlight_require(MPI_CXX_FOUND libopenmpi-dev "Open MPI (-DBACKLIGHT_MPI=ON; also install openmpi-bin for mpirun)")
  endif()
endif()
