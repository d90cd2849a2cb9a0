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

# --- the bundle's own loader and glibc ----------------------------------------
# The `bundle` target (docker/bundle.sh) ships corefork and every library it
# needs beyond glibc. This step, run right after it, makes the bundle
# independent of the image's libc as well (Alpine/musl, distroless/static,
# scratch, or a glibc older than the build machine's):
#   lib/<loader>         the build machine's dynamic loader, e.g.
#                        ld-linux-x86-64.so.2, and the glibc libraries ldd
#                        names (libc.so.6, libm.so.6, ...)
#   bin/corefork         PT_INTERP set (patchelf) to
#                        COREFORK_BUNDLE_PREFIX/lib/<loader>: the kernel needs
#                        an absolute path, so the bundle's place is fixed
#                        unless corefork is started through its loader
#                        (lib/<loader> bin/corefork; docker/README.md)
#   lib/libcorefork-listen-musl.so   the musl build of the shim, when built
# Workers are untouched: each is exec'd with its own PT_INTERP, and neither
# the DT_RPATH of corefork nor any LD_LIBRARY_PATH (none is set) reaches
# them. Needs patchelf (Debian: patchelf); without it the bundle keeps the
# image's loader, saying so.
set(COREFORK_BUNDLE_PREFIX /opt/corefork CACHE STRING
  "Where the bundle lives in images: its binary's PT_INTERP points there")
find_program(COREFORK_PATCHELF patchelf)
file(WRITE ${CMAKE_BINARY_DIR}/BundleLoader.cmake [[
# cmake -DBIN=corefork -DOUT=bundle/opt/corefork -DPREFIX=/opt/corefork
#       -DPATCHELF=patchelf -P BundleLoader.cmake  (from cmake/Packaging.cmake)
if(NOT PATCHELF)
  message(WARNING "patchelf not found: the bundle uses the image's glibc "
                  "(install patchelf for a bundle that runs on any image)")
  return()
endif()
set(exe "${OUT}/bin/corefork")
execute_process(COMMAND "${PATCHELF}" --print-interpreter "${exe}"
  OUTPUT_VARIABLE interp OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT interp MATCHES "^/")
  message(FATAL_ERROR "${exe}: no program interpreter (${rc}): ${interp}")
endif()
get_filename_component(loader_name "${interp}" NAME)
if(NOT interp STREQUAL "${PREFIX}/lib/${loader_name}")
  # The build machine's loader, as a file under its own name.
  file(REAL_PATH "${interp}" loader_file)
  configure_file("${loader_file}" "${OUT}/lib/${loader_name}" COPYONLY)
endif()
# glibc's libraries as ldd resolves them here; the rest is in lib/ already.
execute_process(COMMAND ldd "${BIN}" OUTPUT_VARIABLE ldd_out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ldd ${BIN} failed")
endif()
string(REGEX MATCHALL "[^\n\t ]+ => /[^\n\t ]+" pairs "${ldd_out}")
set(glibc_names "")
foreach(pair IN LISTS pairs)
  string(REGEX REPLACE " => .*" "" soname "${pair}")
  string(REGEX REPLACE ".* => " "" path "${pair}")
  if(soname MATCHES "^(libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|libmvec|libnsl|libBrokenLocale|libthread_db|libnss_[a-z]+|libc_malloc_debug)\\.so\\.")
    file(REAL_PATH "${path}" real)
    configure_file("${real}" "${OUT}/lib/${soname}" COPYONLY)
    list(APPEND glibc_names ${soname})
  endif()
endforeach()
execute_process(COMMAND "${PATCHELF}" --set-interpreter
  "${PREFIX}/lib/${loader_name}" "${exe}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "patchelf --set-interpreter ${exe} failed")
endif()
get_filename_component(bin_dir "${BIN}" DIRECTORY)
set(musl_shim "${bin_dir}/libcorefork-listen-musl.so")
if(EXISTS "${musl_shim}")
  execute_process(COMMAND strip --strip-debug -o
    "${OUT}/lib/libcorefork-listen-musl.so" "${musl_shim}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    configure_file("${musl_shim}" "${OUT}/lib/libcorefork-listen-musl.so" COPYONLY)
  endif()
  set(musl_note "+ musl shim")
else()
  set(musl_note "(no musl shim: musl-gcc was not found)")
endif()
file(GLOB libs "${OUT}/lib/*")
file(CHMOD ${libs} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(CHMOD "${OUT}/lib/${loader_name}" PERMISSIONS OWNER_READ OWNER_WRITE
  OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# The check, through the bundle's own loader (PREFIX need not exist here):
# every library resolves under lib/, and the binary runs.
file(REAL_PATH "${OUT}/lib" real_lib)
execute_process(COMMAND "${OUT}/lib/${loader_name}" --list "${exe}"
  OUTPUT_VARIABLE list_out RESULT_VARIABLE rc)
string(REGEX MATCHALL "=> /[^\n\t ]+" resolved "${list_out}")
if(NOT rc EQUAL 0 OR NOT resolved)
  message(FATAL_ERROR "${loader_name} --list ${exe} failed:\n${list_out}")
endif()
foreach(entry IN LISTS resolved)
  string(REGEX REPLACE "^=> " "" path "${entry}")
  get_filename_component(dir "${path}" DIRECTORY)
  file(REAL_PATH "${dir}" dir)
  if(NOT dir STREQUAL real_lib)
    message(FATAL_ERROR "${exe}: ${path} is not in the bundle's lib/")
  endif()
endforeach()
execute_process(COMMAND "${OUT}/lib/${loader_name}" "${exe}" --version
  OUTPUT_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OUT}/lib/${loader_name} ${exe} --version failed")
endif()
list(JOIN glibc_names " " glibc_names)
message(STATUS "bundle: PT_INTERP ${PREFIX}/lib/${loader_name}, + "
               "${loader_name} ${glibc_names} ${musl_note}")
]])
add_custom_command(TARGET bundle POST_BUILD
  COMMAND ${CMAKE_COMMAND} "-DBIN=$<TARGET_FILE:corefork>"
          "-DOUT=${CMAKE_BINARY_DIR}/bundle/opt/corefork"
          "-DPREFIX=${COREFORK_BUNDLE_PREFIX}" "-DPATCHELF=${COREFORK_PATCHELF}"
          -P ${CMAKE_BINARY_DIR}/BundleLoader.cmake
  VERBATIM)
if(TARGET corefork-listen-musl)
  add_dependencies(bundle corefork-listen-musl)
endif()

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
  # The bundle on a musl-only root and on scratch (tests/musl/run.sh): its
  # own loader and glibc, the musl shim for a musl-gcc worker.
  add_test(NAME musl_test
    COMMAND "${CMAKE_SOURCE_DIR}/tests/musl/run.sh"
            "$<TARGET_FILE:corefork>" "$<TARGET_FILE:hello>")
  set_tests_properties(musl_test PROPERTIES
    TIMEOUT 300 LABELS "container;musl" RUN_SERIAL TRUE
    SKIP_REGULAR_EXPRESSION "0 passed, 0 failed, 1 skipped")
endif()
