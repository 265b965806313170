# SigLIP's tokenizer runs spiece.model through Debian's libsentencepiece (C++). C++ is enabled
# for that one shim file (text/spm.cc); everything else stays C11.
enable_language(CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
# stdc++ named explicitly: C executables link with the C driver.
list(APPEND VLP_TEXT_EXTRA_LIBS PkgConfig::SENTENCEPIECE stdc++)
