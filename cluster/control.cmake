# Control plane: the replicated cluster state (pure) and its raft wrapper,
# the only module that includes raft.h (canonical raft 0.15, libuv backend).
add_library(vg_cstate STATIC ${CMAKE_CURRENT_LIST_DIR}/vg_cstate.c)
target_include_directories(vg_cstate PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vg_cstate PUBLIC vg_proto vg_common)

add_library(vg_raft STATIC ${CMAKE_CURRENT_LIST_DIR}/vg_raft.c)
target_include_directories(vg_raft PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vg_raft PUBLIC vg_cstate PkgConfig::RAFT PkgConfig::LIBUV Threads::Threads)
