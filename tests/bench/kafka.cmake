# bench_kafka: Kafka ingest into one node (the bridge in-process with the
# real engine, librdkafka's mock cluster in the process).
add_executable(bench_kafka ${CMAKE_CURRENT_LIST_DIR}/bench_kafka.c)
target_link_libraries(bench_kafka PRIVATE vg_gateway vg_node PkgConfig::RDKAFKA)
target_include_directories(bench_kafka PRIVATE ${CMAKE_SOURCE_DIR}/tests/gateway)
set_target_properties(bench_kafka PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
