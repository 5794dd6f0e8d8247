# bench_pg: the PostgreSQL anomaly store on its own throw-away server
# (tests/pg/pg_server.sh): insert rate, 10M generated rows, API query
# latency p50/p99 and EXPLAIN. --rows N for a quick run.
add_executable(bench_pg ${CMAKE_CURRENT_LIST_DIR}/bench_pg.c)
target_link_libraries(bench_pg PRIVATE vg_pgstore Threads::Threads)
target_include_directories(bench_pg PRIVATE ${CMAKE_SOURCE_DIR}/tests/pg)
target_compile_definitions(bench_pg PRIVATE
  VT_PG_SERVER_SH="${CMAKE_SOURCE_DIR}/tests/pg/pg_server.sh")
set_target_properties(bench_pg PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
