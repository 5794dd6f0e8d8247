# Transport tests: real tcp sockets on 127.0.0.1, ephemeral ports; a raw
# ZeroMQ DEALER sends the malformed frames (hence the direct libzmq link).
vg_test(test_transport LABEL cluster TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_transport.c
  LIBS vg_transport PkgConfig::LIBZMQ m)
target_include_directories(test_transport PRIVATE ${CMAKE_SOURCE_DIR}/tests/proto)
