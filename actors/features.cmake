# vg_detect: per-user features in event time (features/) and the
# statistical detectors + combiner (detect/). Pure, allocation-free code
# shared by the shard workers and vigil-train; included from actors/.
add_library(vg_detect STATIC
  ${CMAKE_CURRENT_LIST_DIR}/features/vg_features.c
  ${CMAKE_CURRENT_LIST_DIR}/detect/vg_detect.c)
target_include_directories(vg_detect PUBLIC
  ${CMAKE_CURRENT_LIST_DIR}/features ${CMAKE_CURRENT_LIST_DIR}/detect)
target_link_libraries(vg_detect PUBLIC vg_proto m)
