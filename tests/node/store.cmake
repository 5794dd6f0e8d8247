# LMDB store: a real environment in a temp dir under /tmp.
vg_test(test_store LABEL node SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store.c LIBS vg_node m
        TIMEOUT 300)
