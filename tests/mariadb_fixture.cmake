# CTest fixture "mariadb": a private MariaDB server for the whole test run, started before the first
# test that declares FIXTURES_REQUIRED mariadb and stopped after the last (scripts/test_mariadb.sh).
# Its directory holds `port` (read by tests/test_util/mariadb.h), `sock`, `pid` and `mariadb.log`.
#
# A test that needs it:
#   semisync_test(foo_test SOURCES ... LIBS ... semisync_test_util
#     PROPERTIES FIXTURES_REQUIRED mariadb
#                ENVIRONMENT SEMISYNC_TEST_MARIADB_DIR=${SEMISYNC_TEST_MARIADB_DIR})
set(SEMISYNC_TEST_MARIADB_DIR ${CMAKE_BINARY_DIR}/mariadb)

add_test(NAME mariadb_start
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/test_mariadb.sh start ${SEMISYNC_TEST_MARIADB_DIR})
set_tests_properties(mariadb_start PROPERTIES
  FIXTURES_SETUP mariadb TIMEOUT 180 LABELS mariadb)

add_test(NAME mariadb_stop
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/test_mariadb.sh stop ${SEMISYNC_TEST_MARIADB_DIR})
set_tests_properties(mariadb_stop PROPERTIES
  FIXTURES_CLEANUP mariadb TIMEOUT 120 LABELS mariadb)
