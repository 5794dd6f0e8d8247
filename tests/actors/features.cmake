# Tests of actors/features and actors/detect (vg_actors), included from
# tests/actors/CMakeLists.txt; bench_features is built, not run by ctest.
vg_test(test_features LABEL actors
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/features/test_features.c LIBS vg_actors)
vg_test(test_detect LABEL actors
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/detect/test_detect.c LIBS vg_actors)
add_executable(bench_features ${CMAKE_CURRENT_LIST_DIR}/features/bench_features.c)
target_link_libraries(bench_features PRIVATE vg_actors)
set_target_properties(bench_features PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
