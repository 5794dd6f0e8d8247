# bench_http: a script driving vigil-node with vigil-loadgen (make bench).
configure_file(${CMAKE_CURRENT_LIST_DIR}/bench_http.sh ${CMAKE_BINARY_DIR}/bin/bench_http COPYONLY)
# bench_rules_http: scoring throughput with 0, 100 and 1000 rules.
configure_file(${CMAKE_CURRENT_LIST_DIR}/bench_rules_http.sh ${CMAKE_BINARY_DIR}/bin/bench_rules_http COPYONLY)
