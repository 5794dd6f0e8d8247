add_executable(bench_proto ${CMAKE_CURRENT_LIST_DIR}/bench_proto.c)
target_link_libraries(bench_proto PRIVATE vg_proto m)
target_include_directories(bench_proto PRIVATE ${CMAKE_SOURCE_DIR}/tests/proto)
