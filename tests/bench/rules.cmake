# bench_rules: vg_ruleset_eval with 0 / 100 / 1000 realistic rules over
# 100k transactions and their features (ns per rule, transactions/s).
add_executable(bench_rules ${CMAKE_CURRENT_LIST_DIR}/bench_rules.c)
target_link_libraries(bench_rules PRIVATE vg_actors m)
set_target_properties(bench_rules PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
