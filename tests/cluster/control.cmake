# Control plane tests: the pure cluster state, and the raft wrapper (raft's
# in-memory fixture + three real libuv/TCP nodes on loopback in one process).
vg_test(test_cstate LABEL cluster SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cstate.c
        LIBS vg_cstate TIMEOUT 120)
vg_test(test_raft LABEL cluster SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_raft.c
        LIBS vg_raft TIMEOUT 180)
