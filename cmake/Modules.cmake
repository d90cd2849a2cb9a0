# corefork's modules: one static library per directory under src/, each with
# its dependencies declared, and a configure-time check of the layout:
#   - a module's sources (tests excepted) may include only headers of its own
#     module and of the modules it declares;
#   - the declared graph has no cycles.
# A new import cycle, or an import of an undeclared module, therefore fails
# `cmake` with the file and the include that broke the rule.

set(COREFORK_MODULES "")

# corefork_module(NAME [DEPS module...] [LIBS target...])
function(corefork_module name)
  cmake_parse_arguments(M "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${name}/*.cc)
  list(FILTER sources EXCLUDE REGEX "_test\\.cc$")
  add_library(corefork_${name} STATIC ${sources})
  target_include_directories(corefork_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_compile_definitions(corefork_${name} PUBLIC
    COREFORK_VERSION="${PROJECT_VERSION}")
  set(deps "")
  foreach(dep IN LISTS M_DEPS)
    list(APPEND deps corefork_${dep})
  endforeach()
  target_link_libraries(corefork_${name} PUBLIC ${deps} ${M_LIBS})
  set(COREFORK_MODULES ${COREFORK_MODULES} ${name} PARENT_SCOPE)
  set_property(GLOBAL PROPERTY COREFORK_DEPS_${name} "${M_DEPS}")
endfunction()

# Fails when a module includes a module it does not declare.
function(corefork_check_includes)
  foreach(module IN LISTS COREFORK_MODULES)
    get_property(deps GLOBAL PROPERTY COREFORK_DEPS_${module})
    file(GLOB files ${CMAKE_SOURCE_DIR}/src/${module}/*.h
                    ${CMAKE_SOURCE_DIR}/src/${module}/*.cc)
    # Tests and test-only helpers may use any module.
    list(FILTER files EXCLUDE REGEX "(_test\\.cc|_for_tests\\.h|test_[a-z_]*\\.h)$")
    foreach(file IN LISTS files)
      file(STRINGS ${file} includes REGEX "^#include \"[a-z_]+/")
      foreach(line IN LISTS includes)
        string(REGEX REPLACE "^#include \"([a-z_]+)/.*" "\\1" used "${line}")
        if(NOT used STREQUAL module AND NOT used IN_LIST deps)
          file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${file})
          message(FATAL_ERROR
            "layout: ${rel}: ${line}\n"
            "  module '${module}' does not declare '${used}' "
            "(cmake/Modules.cmake, docs/architecture.md)")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()

# Fails when the declared dependencies form a cycle (depth-first search).
function(corefork_visit module path)
  if(module IN_LIST path)
    list(APPEND path ${module})
    list(JOIN path " -> " cycle)
    message(FATAL_ERROR "layout: module cycle: ${cycle}")
  endif()
  get_property(done GLOBAL PROPERTY COREFORK_ACYCLIC_${module})
  if(done)
    return()
  endif()
  list(APPEND path ${module})
  get_property(deps GLOBAL PROPERTY COREFORK_DEPS_${module})
  foreach(dep IN LISTS deps)
    corefork_visit(${dep} "${path}")
  endforeach()
  set_property(GLOBAL PROPERTY COREFORK_ACYCLIC_${module} TRUE)
endfunction()

function(corefork_check_layout)
  foreach(module IN LISTS COREFORK_MODULES)
    corefork_visit(${module} "")
  endforeach()
  corefork_check_includes()
endfunction()
