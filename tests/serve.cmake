# vlp serve (serve/, cli/cmd_serve.c): servers on 127.0.0.1 with ephemeral ports, driven by
# Python (Debian python3-numpy, python3-pil; the browser test python3-selenium, chromium,
# chromium-driver). Recorded client requests are in tests/serve/recorded.
add_test(NAME serve_compat
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/compat_test.py $<TARGET_FILE:vlp_cli>
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(serve_compat PROPERTIES TIMEOUT 300)
# The search page in headless Chromium; the screenshot is kept in build/serve-artifacts.
add_test(NAME serve_browser
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/browser_test.py $<TARGET_FILE:vlp_cli>
          ${CMAKE_BINARY_DIR}/serve-artifacts/search-page.png
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(serve_browser PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
# 2,000 mixed requests (malformed ones included) from 32 clients: 0 errors, bounded memory;
# the p50 / p99 / throughput line is kept in build/serve-artifacts/load.txt.
add_test(NAME serve_load
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/serve/load_test.py $<TARGET_FILE:vlp_cli>
          --summary ${CMAKE_BINARY_DIR}/serve-artifacts/load.txt
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(serve_load PROPERTIES TIMEOUT 600)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/serve-artifacts)
