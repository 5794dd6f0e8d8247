# Tests of the rule engine (actors/detect/vg_rules*.c), included from
# tests/actors/CMakeLists.txt.
vg_test(test_rules LABEL actors
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/rules/test_rules.c LIBS vg_actors)
