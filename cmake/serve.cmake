# serve: `vlp serve` (serve/), an HTTP service on libmicrohttpd (Debian libmicrohttpd-dev)
# with an embedded search page (serve/page.html, turned into a C array at build time).
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
find_package(Threads REQUIRED)
set(serve_page_c ${CMAKE_BINARY_DIR}/serve_page.c)
add_custom_command(OUTPUT ${serve_page_c}
  COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/serve/page.html -DOUT=${serve_page_c}
          -P ${CMAKE_SOURCE_DIR}/serve/embed.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/serve/page.html ${CMAKE_SOURCE_DIR}/serve/embed.cmake
  COMMENT "Embedding serve/page.html")
file(GLOB serve_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/serve/*.c)
add_library(vlp_serve STATIC ${serve_srcs} ${serve_page_c})
target_include_directories(vlp_serve PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/serve)
# the command line (cmd_serve.c) sees serve.h, not the library's internal headers
target_include_directories(vlp_serve INTERFACE ${CMAKE_SOURCE_DIR}/serve)
target_link_libraries(vlp_serve PUBLIC vlp PkgConfig::MHD PkgConfig::JPEG PkgConfig::CJSON
  Threads::Threads)
list(APPEND VLP_CLI_EXTRA_LIBS vlp_serve)
