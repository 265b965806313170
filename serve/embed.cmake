# Turns serve/page.html into a C array (cmake -DIN=... -DOUT=... -P serve/embed.cmake), so
# the page is part of the binary without any build tool besides CMake.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from serve/page.html by serve/embed.cmake */\n#include <stddef.h>\nconst char serve_page_html[] = {${body} 0};\nconst size_t serve_page_html_len = ${len};\n")
