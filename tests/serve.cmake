# vlp serve (serve/, cli/cmd_serve.c): servers on 127.0.0.1 with ephemeral ports, driven by
# Python (Debian python3-numpy, python3-pil; the browser test python3-selenium, chromium,
# chromium-driver). Recorded client requests are in tests/serve/recorded.
add_test(NAME serve_compat
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/compat_test.py $<TARGET_FILE:vlp_cli>
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(serve_compat PROPERTIES TIMEOUT 300)
