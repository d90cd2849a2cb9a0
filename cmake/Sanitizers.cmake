# Sanitizer builds (issue 10): -DCOREFORK_SANITIZE=ON compiles and links the
# project's own targets with AddressSanitizer + UndefinedBehaviorSanitizer
# (clang or GCC). tests/run.sh builds this way with clang, -O1 -g, to run the
# unit and integration tests under the sanitizers.
#
# The flags go on per target, never on the directory (add_compile_options):
# these targets must stay uninstrumented, and a target left out of the list
# below is sanitized by default, so a new module needs no change here.
#   corefork-listen  is LD_PRELOADed into processes we do not build (node,
#                    python3, sh, hello): an ASan .so in a process without the
#                    ASan runtime fails to load or aborts ("ASan runtime does
#                    not come first"), so every worker would die.
#   hello,           are linked -static; the sanitizer runtimes do not
#   static_bind      support static executables (clang refuses the link).
# A target can also opt out with set_target_properties(T PROPERTIES
# COREFORK_NO_SANITIZE ON) (the libFuzzer targets, which bring their own).
#
# Include it anywhere after project(); the flags are applied at the end of the
# top-level CMakeLists.txt (cmake_language(DEFER)), when every target, in
# every add_subdirectory(), exists.
include_guard(GLOBAL)

option(COREFORK_SANITIZE
  "Build with -fsanitize=address,undefined (all targets but the LD_PRELOAD shim and the static apps)"
  OFF)
set(COREFORK_SANITIZE_EXCLUDE corefork-listen hello static_bind CACHE STRING
  "Targets COREFORK_SANITIZE leaves uninstrumented")

if(COREFORK_SANITIZE)
  set(COREFORK_SANITIZE_COMPILE_FLAGS
    -fsanitize=address,undefined
    # A UBSan finding stops the process like an ASan one, so no test can
    # pass over it.
    -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -g
    # libstdc++'s bounds checks (operator[], front(), back() on empty
    # containers): they catch what ASan cannot, an index past size() but
    # within capacity(). They change no layout, so mixing with the
    # uninstrumented system libraries is fine.
    -D_GLIBCXX_ASSERTIONS)
  set(COREFORK_SANITIZE_LINK_FLAGS -fsanitize=address,undefined)

  # Adds the flags to every buildable target of `dir` and its subdirectories.
  function(_corefork_sanitize_directory dir)
    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target IN LISTS targets)
      get_target_property(type ${target} TYPE)
      get_target_property(opt_out ${target} COREFORK_NO_SANITIZE)
      if(target IN_LIST COREFORK_SANITIZE_EXCLUDE OR opt_out OR
         NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY)$")
        continue()
      endif()
      target_compile_options(${target} PRIVATE ${COREFORK_SANITIZE_COMPILE_FLAGS})
      if(type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY)$")
        target_link_options(${target} PRIVATE ${COREFORK_SANITIZE_LINK_FLAGS})
      endif()
      list(APPEND done ${target})
    endforeach()
    set_property(GLOBAL APPEND PROPERTY COREFORK_SANITIZED_TARGETS ${done})
    get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
    foreach(sub IN LISTS subdirs)
      _corefork_sanitize_directory("${sub}")
    endforeach()
  endfunction()

  function(_corefork_sanitize_all)
    _corefork_sanitize_directory("${CMAKE_SOURCE_DIR}")
    get_property(done GLOBAL PROPERTY COREFORK_SANITIZED_TARGETS)
    list(LENGTH done count)
    message(STATUS "COREFORK_SANITIZE: ASan+UBSan on ${count} targets; "
                   "uninstrumented: ${COREFORK_SANITIZE_EXCLUDE}")
  endfunction()

  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}"
                 CALL _corefork_sanitize_all)
endif()
