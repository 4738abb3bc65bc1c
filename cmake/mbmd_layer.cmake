# Helpers that keep every layer built the same way: one static library per folder under src/,
# public headers under include/mbmd/<layer>, warnings as errors, one shared precompiled header.

function(mbmd_apply_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra $<$<BOOL:${MBMD_WERROR}>:-Werror>
                                            -Wno-unused-parameter)
endfunction()

# Paths the code and tests need, in a generated header so that every target keeps the same
# compile definitions and can share the precompiled header.
configure_file(${CMAKE_CURRENT_LIST_DIR}/paths.h.in ${PROJECT_BINARY_DIR}/generated/mbmd_paths.h)

# The version and the commit (at configure time; "unknown" outside a git checkout), for
# `mbmd --version`. Only src/core/build_info.cpp includes it, so a new commit rebuilds one file.
execute_process(COMMAND git describe --always --dirty WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                OUTPUT_VARIABLE MBMD_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT MBMD_COMMIT)
  set(MBMD_COMMIT unknown)
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.h.in ${PROJECT_BINARY_DIR}/generated/mbmd_version.h)

# The precompiled header holds the LibTorch headers, which cost ~13 s per translation unit.
add_library(mbmd_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
target_link_libraries(mbmd_pch PUBLIC torch)
target_precompile_headers(mbmd_pch PRIVATE ${CMAKE_CURRENT_LIST_DIR}/pch.h)
set_target_properties(mbmd_pch PROPERTIES POSITION_INDEPENDENT_CODE OFF)

function(mbmd_reuse_pch target)
  target_precompile_headers(${target} REUSE_FROM mbmd_pch)
endfunction()

function(mbmd_add_layer name)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp
       ${PROJECT_SOURCE_DIR}/src/${name}/*/*.cpp)
  if(NOT sources)
    # A layer whose folder has no sources yet is a header-only interface.
    add_library(mbmd_${name} INTERFACE)
    target_include_directories(mbmd_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(mbmd_${name} INTERFACE ${ARG_DEPENDS})
    return()
  endif()
  add_library(mbmd_${name} STATIC ${sources})
  target_include_directories(mbmd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(mbmd_${name} PUBLIC ${ARG_DEPENDS})
  target_include_directories(mbmd_${name} PRIVATE ${PROJECT_BINARY_DIR}/generated)
  mbmd_apply_warnings(mbmd_${name})
  mbmd_reuse_pch(mbmd_${name})
endfunction()

# One GoogleTest program per layer: tests/<layer>/*_test.cpp.
function(mbmd_add_layer_tests name)
  cmake_parse_arguments(ARG "" "LABEL" "DEPENDS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/*_test.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(mbmd_${name}_tests ${sources})
  target_link_libraries(mbmd_${name}_tests PRIVATE ${ARG_DEPENDS} GTest::gtest GTest::gtest_main)
  target_include_directories(mbmd_${name}_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_include_directories(mbmd_${name}_tests PRIVATE ${PROJECT_BINARY_DIR}/generated)
  mbmd_apply_warnings(mbmd_${name}_tests)
  mbmd_reuse_pch(mbmd_${name}_tests)
  set(labels ${name})
  if(ARG_LABEL)
    list(APPEND labels ${ARG_LABEL})
  endif()
  gtest_discover_tests(mbmd_${name}_tests DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${labels}" TIMEOUT 900)
endfunction()
