# bench_http: a script driving vigil-node with vigil-loadgen (make bench).
configure_file(${CMAKE_CURRENT_LIST_DIR}/bench_http.sh ${CMAKE_BINARY_DIR}/bin/bench_http COPYONLY)
