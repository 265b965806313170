# pull: `vlp pull` downloads models from a Hugging Face-compatible hub with libcurl
# (core/hub.c). Debian package: libcurl4-openssl-dev.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
list(APPEND VLP_CORE_EXTRA_LIBS PkgConfig::CURL)
