# The targets' entry functions as one library, shared by the libFuzzer binaries
# (tests/fuzz/CMakeLists.txt) and the replay test (tests/CMakeLists.txt); whichever is configured
# first defines it.
if(NOT TARGET mbmd_fuzz_targets)
  add_library(mbmd_fuzz_targets STATIC
              ${CMAKE_CURRENT_LIST_DIR}/targets.cpp ${CMAKE_CURRENT_LIST_DIR}/fuzz_input.cpp
              ${CMAKE_CURRENT_LIST_DIR}/image_targets.cpp
              ${CMAKE_CURRENT_LIST_DIR}/dataset_targets.cpp
              ${CMAKE_CURRENT_LIST_DIR}/model_file_targets.cpp)
  target_include_directories(mbmd_fuzz_targets PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(mbmd_fuzz_targets PUBLIC mbmd_data mbmd_io mbmd_eval)
  mbmd_apply_warnings(mbmd_fuzz_targets)
  mbmd_reuse_pch(mbmd_fuzz_targets)
endif()
