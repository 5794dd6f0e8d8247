# Tests of the Isolation Forest, the model artifact and vigil-train
# (actors/detect/vg_iforest, vg_model, vg_eval; actors/ml), included from
# tests/actors/CMakeLists.txt. iforest_quality runs the small paper
# datasets of /work/shared/data/outlier (tests/bench/iforest_quality.sh has
# them all) and fails if an AUC-ROC is off the published figure by > 0.03.
vg_test(test_iforest LABEL actors
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ml/test_iforest.c LIBS vg_actors)
vg_test(test_train_io LABEL actors
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/ml/test_train_io.c LIBS vg_ml)
add_test(NAME vigil_train_cli
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/ml/test_vigil_train.sh $<TARGET_FILE:vigil-train>
          $<TARGET_FILE:vigil-loadgen>)
set_tests_properties(vigil_train_cli PROPERTIES LABELS actors TIMEOUT 120)
add_test(NAME iforest_quality
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/bench/iforest_quality.sh --ctest
          --bin $<TARGET_FILE:vigil-train>)
set_tests_properties(iforest_quality PROPERTIES LABELS actors TIMEOUT 300
  SKIP_RETURN_CODE 77)
