# Finding libtorch, shared by the engine's shim (this folder) and the benchmark's C++ side (bench/cpp):
# C++17, Release unless told otherwise, find_package(Torch) with LIBTORCH_DIR or Torch_DIR selecting
# another libtorch, and dsl_torch_rpath(target) so that a target finds that libtorch at run time.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()

if(DEFINED ENV{LIBTORCH_DIR} AND NOT Torch_DIR)
  list(APPEND CMAKE_PREFIX_PATH "$ENV{LIBTORCH_DIR}")
endif()
find_package(Torch REQUIRED)

function(dsl_torch_rpath target)
  get_target_property(_torch_loc torch IMPORTED_LOCATION)
  if(_torch_loc)
    get_filename_component(_torch_libdir "${_torch_loc}" DIRECTORY)
    set_target_properties(${target} PROPERTIES BUILD_RPATH "${_torch_libdir}" INSTALL_RPATH "${_torch_libdir}")
  endif()
endfunction()
