# bench_iforest: Isolation Forest training from a 1M-transaction replay
# (data from vigil-loadgen --dry-run) and scoring ns per transaction.
# The quality table against the paper's datasets is iforest_quality.sh.
add_executable(bench_iforest ${CMAKE_CURRENT_LIST_DIR}/bench_iforest.c)
target_link_libraries(bench_iforest PRIVATE vg_ml)
set_target_properties(bench_iforest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
