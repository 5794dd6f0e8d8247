# Alerting (actors/sink/vg_alert*, docs/ALERTS.md): alerts.json and message
# rendering (pure), and the module end to end against loopback SMTP and HTTP
# receivers that the test starts (sink/alert_recv.py, python3 stdlib).
foreach(t test_alert_config test_alert)
  vg_test(${t} LABEL actors SOURCES ${CMAKE_CURRENT_LIST_DIR}/sink/${t}.c
          LIBS vg_alert PkgConfig::JANSSON PkgConfig::LIBSODIUM m TIMEOUT 180)
  target_compile_definitions(${t} PRIVATE
    VT_ALERT_RECV_PY="${CMAKE_CURRENT_LIST_DIR}/sink/alert_recv.py")
endforeach()
