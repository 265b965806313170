# hub: `vlp pull` downloads models from a Hugging Face-compatible hub with libcurl
# (hub/pull.c). Debian package: libcurl4-openssl-dev. -DVLP_WITH_HUB=OFF builds without it:
# hub/pull_none.c makes vlp_pull fail with a message saying so; the model cache still works.
option(VLP_WITH_HUB "Model downloads (vlp pull) with libcurl" ON)
if(VLP_WITH_HUB)
  # Headers only: hub/curl_lazy.c opens libcurl at the first download (dlopen), so it costs
  # nothing to a run that downloads nothing.
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
  include_directories(${CURL_INCLUDE_DIRS})
  list(APPEND VLP_SKIP_SOURCES hub/pull_none.c)
else()
  list(APPEND VLP_SKIP_SOURCES hub/pull.c hub/curl_lazy.c)
endif()
