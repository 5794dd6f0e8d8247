# vg_transport: ZeroMQ ROUTER/DEALER transport between nodes, gateways and
# vigilctl (plain libzmq; the only library that includes zmq.h).
add_library(vg_transport STATIC
  ${CMAKE_CURRENT_LIST_DIR}/vg_transport.c
  ${CMAKE_CURRENT_LIST_DIR}/vg_transport_io.c)
target_include_directories(vg_transport PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(vg_transport PUBLIC vg_proto vg_common Threads::Threads
                      PRIVATE PkgConfig::LIBZMQ)
