# Install rules and the Debian package (CPack). Included from CMakeLists.txt
# after every target is defined.
#
#   cmake --install build --prefix /usr/local     # a working corefork
#   (cd build && cpack -G DEB)                     # corefork_<ver>-1_<arch>.deb
#
# Layout under the prefix (the package uses /usr):
#   bin/corefork
#   lib/corefork/libcorefork-listen.so   where corefork looks for its shim
#                                        (BIN/../lib/corefork/, see
#                                        supervisor/compat.cc FindShim)
#   share/man/man1/corefork.1.gz         from docs/corefork.1
#   share/doc/corefork/*.md              docs/
# lib/corefork is spelled out rather than taken from GNUInstallDirs: on
# Debian CMAKE_INSTALL_LIBDIR is lib/<multiarch>, where corefork would not
# find the shim.

include(GNUInstallDirs)

install(TARGETS corefork RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The shim is only ever LD_PRELOADed, never executed: 0644, as Debian wants
# for shared objects.
install(TARGETS corefork-listen
  LIBRARY DESTINATION lib/corefork
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The man page is hand-written roff (docs/corefork.1, checked against
# `corefork --help` by tests/package/run.sh). Installed gzipped (-n: no name
# or time stamp, so the package is reproducible), as Debian expects; man
# reads it the same under any prefix.
set(COREFORK_MANPAGE_GZ ${CMAKE_BINARY_DIR}/corefork.1.gz)
add_custom_command(OUTPUT ${COREFORK_MANPAGE_GZ}
  COMMAND gzip -9 -n -c ${CMAKE_SOURCE_DIR}/docs/corefork.1
          > ${COREFORK_MANPAGE_GZ}
  DEPENDS ${CMAKE_SOURCE_DIR}/docs/corefork.1
  COMMENT "Compressing the man page corefork(1)"
  VERBATIM)
add_custom_target(manpage ALL DEPENDS ${COREFORK_MANPAGE_GZ})
install(FILES ${COREFORK_MANPAGE_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

file(GLOB COREFORK_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${COREFORK_DOCS} ${CMAKE_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- the .deb ----------------------------------------------------------------
# Depends comes from dpkg-shlibdeps (needs dpkg-dev and file), so it follows
# whatever corefork links without a hand-kept list.
set(COREFORK_PACKAGE_MAINTAINER "corefork maintainers <corefork@localhost>"
  CACHE STRING "Maintainer: field of the .deb")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME corefork)
set(CPACK_PACKAGE_VENDOR corefork)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${COREFORK_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "container-aware prefork launcher and PID 1")
# The long description only: CPackDeb puts the summary on the first line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "corefork runs a command as a pool of prefork workers, as many as the
container's CPU limit allows, all serving one port. It is meant to be a
container's PID 1: it reaps orphans, drains on SIGTERM, serves /livez,
/readyz, /metrics and /status on an admin port, and runs jobs.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# CPackDeb also adds postinst/postrm scripts that run ldconfig, because the
# shim is under /usr/lib. Harmless: /usr/lib/corefork is not on the loader's
# path, and no public library is shipped (no shlibs file).
# Stripped binaries and 0644 control files, 0755 directories whatever the
# umask: what dpkg-deb and lintian expect of a package.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE
  GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# The $ORIGIN/../lib RPATH is for the relocatable bundle (docker/bundle.sh).
# In /usr/bin it would only name /usr/lib again, and Debian frowns on RPATHs
# (lintian: custom-library-search-path): drop it from the packaged copy
# only, after CPack staged the files and before dpkg-shlibdeps reads them.
# (`cmake --install` keeps it: a prefix with its own lib/ stays relocatable.)
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/CPackPreBuild.cmake
  CONTENT [[
file(GLOB_RECURSE staged LIST_DIRECTORIES false
  "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/bin/corefork")
if(NOT staged)
  message(FATAL_ERROR "no bin/corefork under ${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
endif()
foreach(binary IN LISTS staged)
  file(RPATH_REMOVE FILE "${binary}")
endforeach()
]] @ONLY)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_BINARY_DIR}/CPackPreBuild.cmake)

include(CPack)

# --- the package test ---------------------------------------------------------
# Builds the .deb into a temporary directory, checks it on the host, then
# installs it with apt in a fresh Debian 12 container (podman) and runs it.
# Skips, saying so, when the base image is missing: prepare it with
# tests/package/prepare-base.sh (.ci/install-deps.sh test calls it).
if(BUILD_TESTING)
  add_test(NAME package_test
    COMMAND "${CMAKE_SOURCE_DIR}/tests/package/run.sh" "${CMAKE_BINARY_DIR}")
  set_tests_properties(package_test PROPERTIES
    TIMEOUT 300 LABELS "container;package" RUN_SERIAL TRUE
    SKIP_REGULAR_EXPRESSION "0 passed, 0 failed, 1 skipped")
endif()
