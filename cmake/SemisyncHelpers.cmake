# Build helpers shared by every directory.
#
# SEMISYNC_ALLOW_MISSING (dev only): skip, with a message, a library or test whose sources or
# dependencies are not there yet, so that parts can be developed in parallel.
option(SEMISYNC_ALLOW_MISSING "Skip targets whose sources are missing (development only)" OFF)

function(_semisync_sources_present out)
  set(ok TRUE)
  foreach(s ${ARGN})
    if(NOT IS_ABSOLUTE ${s})
      set(s ${CMAKE_CURRENT_SOURCE_DIR}/${s})
    endif()
    if(NOT EXISTS ${s} AND NOT s MATCHES "${CMAKE_BINARY_DIR}")
      set(ok FALSE)
      if(NOT SEMISYNC_ALLOW_MISSING)
        message(FATAL_ERROR "missing source ${s}")
      endif()
      message(STATUS "skipping target: missing ${s}")
    endif()
  endforeach()
  set(${out} ${ok} PARENT_SCOPE)
endfunction()

# semisync_library(NAME SOURCES ... LIBS ...): a static library.
function(semisync_library name)
  cmake_parse_arguments(L "" "" "SOURCES;LIBS" ${ARGN})
  _semisync_sources_present(ok ${L_SOURCES})
  if(NOT ok)
    return()
  endif()
  add_library(${name} STATIC ${L_SOURCES})
  target_link_libraries(${name} PUBLIC ${L_LIBS})
endfunction()

# semisync_test(NAME SOURCES ... LIBS ... [LABELS ...] [PROPERTIES ...]): a GoogleTest executable
# registered with ctest, test by test.
function(semisync_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;PROPERTIES" ${ARGN})
  _semisync_sources_present(ok ${T_SOURCES})
  foreach(l ${T_LIBS})
    if(l MATCHES "^semisync_" AND NOT TARGET ${l})
      set(ok FALSE)
      message(STATUS "skipping test ${name}: no target ${l}")
    endif()
  endforeach()
  if(NOT ok)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30
    PROPERTIES LABELS "${T_LABELS}" ${T_PROPERTIES})
endfunction()
