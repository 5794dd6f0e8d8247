# Anomaly record: severity, msgpack codec (round trip, hardened decode), query filters.
vg_test(test_anomaly LABEL actors SOURCES ${CMAKE_CURRENT_LIST_DIR}/sink/test_anomaly.c
        LIBS vg_actors m)
