# vg_sink: the anomaly record (severity, msgpack codec, query shape) that
# every anomaly store backend shares. Included from actors/CMakeLists.txt.
add_library(vg_sink STATIC ${CMAKE_CURRENT_LIST_DIR}/sink/vg_anomaly.c)
target_include_directories(vg_sink PUBLIC ${CMAKE_CURRENT_LIST_DIR}/sink)
target_link_libraries(vg_sink PUBLIC vg_proto vg_detect PRIVATE m)
