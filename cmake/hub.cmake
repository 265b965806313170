# hub: `vlp pull` downloads models from a Hugging Face-compatible hub with libcurl
# (hub/pull.c). Debian package: libcurl4-openssl-dev. -DVLP_WITH_HUB=OFF builds without it:
# hub/pull_none.c makes vlp_pull fail with a message saying so; the model cache still works.
option(VLP_WITH_HUB "Model downloads (vlp pull) with libcurl" ON)
if(VLP_WITH_HUB)
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
  list(APPEND VLP_HUB_EXTRA_LIBS PkgConfig::CURL)
  list(APPEND VLP_SKIP_SOURCES hub/pull_none.c)
else()
  list(APPEND VLP_SKIP_SOURCES hub/pull.c)
endif()
