# install: `cmake --install` puts bin/vlp, libvlp.so.MAJOR + libvlp.a, include/vlp.h,
# lib/pkgconfig/vlp.pc and a CMake package (find_package(vlp): vlp::vlp is the shared
# library, vlp::vlp_static the static one).
#
# Both the .pc file and the package need libvlp's own dependencies for static linking. They
# are read from VLP_LINK_LIBS: a PkgConfig::NAME target was made by pkg_check_modules, whose
# module list FindPkgConfig keeps in __pkg_config_arguments_NAME, so a new optional part
# (cmake/*.cmake) is covered without listing it here.
set(vlp_pc_requires "")
set(vlp_pc_libs "")
set(vlp_config_deps "")
set(vlp_pkg_deps "")
foreach(lib ${VLP_LINK_LIBS})
  if(lib MATCHES "^PkgConfig::(.+)$")
    set(prefix ${CMAKE_MATCH_1})
    set(mods ${__pkg_config_arguments_${prefix}})
    list(REMOVE_ITEM mods REQUIRED QUIET IMPORTED_TARGET GLOBAL NO_CMAKE_PATH
         NO_CMAKE_ENVIRONMENT_PATH)
    list(APPEND vlp_pc_requires ${mods})
    string(REPLACE ";" " " mods_text "${mods}")
    string(APPEND vlp_pkg_deps "  if(NOT TARGET PkgConfig::${prefix})\n"
           "    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${mods_text})\n  endif()\n")
  elseif(lib STREQUAL "OpenMP::OpenMP_C")
    string(APPEND vlp_pc_libs " ${OpenMP_C_FLAGS}")
  elseif(TARGET ${lib})
    # an imported target of a cmake/*.cmake fragment (find_library): its library files go
    # into the .pc file, and the package re-creates the target for vlp::vlp_static
    get_target_property(files ${lib} INTERFACE_LINK_LIBRARIES)
    foreach(f ${files})
      string(APPEND vlp_pc_libs " ${f}")
    endforeach()
    string(APPEND vlp_config_deps "if(NOT TARGET ${lib})\n"
           "  add_library(${lib} INTERFACE IMPORTED)\n"
           "  set_target_properties(${lib} PROPERTIES INTERFACE_LINK_LIBRARIES \"${files}\")\n"
           "endif()\n")
  elseif(NOT lib MATCHES "::")
    string(APPEND vlp_pc_libs " -l${lib}")
  endif()
endforeach()
list(REMOVE_DUPLICATES vlp_pc_requires)
string(REPLACE ";" ", " VLP_PC_REQUIRES_PRIVATE "${vlp_pc_requires}")
set(VLP_PC_LIBS_PRIVATE "${vlp_pc_libs}")
set(VLP_CONFIG_DEPS "${vlp_config_deps}")
set(VLP_PKG_DEPS "${vlp_pkg_deps}")

install(TARGETS vlp_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS vlp vlp_shared EXPORT vlpTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/vlp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# vlp.pc finds its prefix from its own place (${pcfiledir}), so the tree can be moved or
# installed with `cmake --install --prefix DIR`.
file(RELATIVE_PATH vlp_pc_up /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
set(VLP_PC_PREFIX "\${pcfiledir}/${vlp_pc_up}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/vlp.pc.in ${CMAKE_BINARY_DIR}/vlp.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/vlp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

include(CMakePackageConfigHelpers)
set(vlp_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/vlp)
install(EXPORT vlpTargets NAMESPACE vlp:: DESTINATION ${vlp_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vlpConfig.cmake.in
  ${CMAKE_BINARY_DIR}/vlpConfig.cmake INSTALL_DESTINATION ${vlp_cmake_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/vlpConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/vlpConfig.cmake ${CMAKE_BINARY_DIR}/vlpConfigVersion.cmake
        DESTINATION ${vlp_cmake_dir})
