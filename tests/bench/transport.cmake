# bench_transport: two transports over tcp loopback in one process:
# request/reply RTT p50/p99 and TX_BATCH(500) throughput (one way, pipelined).
add_executable(bench_transport ${CMAKE_CURRENT_LIST_DIR}/bench_transport.c)
target_link_libraries(bench_transport PRIVATE vg_cluster)
set_target_properties(bench_transport PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
