# bench_auth: what authentication adds to a request (verified-token cache
# hit + rate bucket), a first verification (HMAC + claims), one and two
# threads.
add_executable(bench_auth ${CMAKE_CURRENT_LIST_DIR}/bench_auth.c)
target_link_libraries(bench_auth PRIVATE vg_gateway Threads::Threads)
set_target_properties(bench_auth PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
