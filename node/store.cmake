# vg_store: the node's LMDB state (the only library that includes lmdb.h).
# Included from node/CMakeLists.txt.
add_library(vg_store STATIC ${CMAKE_CURRENT_LIST_DIR}/vg_store.c)
target_include_directories(vg_store PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vg_store PUBLIC vg_sink vg_common PRIVATE PkgConfig::LMDB)
