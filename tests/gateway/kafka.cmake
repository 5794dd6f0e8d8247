# Kafka bridge and anomaly sink against librdkafka's mock cluster (real
# protocol on loopback, in the test process). Label kafka.
vg_test(test_kafka LABEL kafka SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_kafka.c
        LIBS vg_gateway vg_node PkgConfig::RDKAFKA PkgConfig::JANSSON TIMEOUT 120)
target_include_directories(test_kafka PRIVATE ${CMAKE_CURRENT_LIST_DIR})
