# bench_actors: messaging between two actors on two workers, batched
# (vg_rt_send_chain) and unbatched, plus ping-pong round-trip latency.
add_executable(bench_actors ${CMAKE_CURRENT_LIST_DIR}/bench_actors.c)
target_link_libraries(bench_actors PRIVATE vg_actors)
set_target_properties(bench_actors PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
