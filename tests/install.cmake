# install: the shared library's exported symbols are exactly vlp.h's functions, and an
# installed tree (bin/vlp, libvlp.so/.a, vlp.h, vlp.pc, the CMake package) builds a program
# both with pkg-config and with find_package(vlp). Not under the sanitizers: a program built
# outside this project does not carry their runtime.
add_test(NAME abi COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/abi_test.sh $<TARGET_FILE:vlp_shared>
         ${CMAKE_SOURCE_DIR}/include/vlp.h)
if(NOT VLP_SANITIZE)
  add_test(NAME install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install_test.sh ${CMAKE_BINARY_DIR}
           ${CMAKE_SOURCE_DIR} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(install PROPERTIES TIMEOUT 300)
endif()
