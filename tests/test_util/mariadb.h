// Test helpers: unique names, temporary directories, and the private MariaDB server that the CTest
// fixture "mariadb" (tests/mariadb_fixture.cmake, scripts/test_mariadb.sh) starts for the run.
//
// A test that needs MariaDB declares the fixture:
//   semisync_test(foo_test ... PROPERTIES FIXTURES_REQUIRED mariadb
//                 ENVIRONMENT SEMISYNC_TEST_MARIADB_DIR=${CMAKE_BINARY_DIR}/mariadb)
// and gets a connection string from MariaDbConnectionForTest(). When the server is not there the
// helper returns an error and the test must FAIL (not skip): run such tests through ctest.
//
// All functions are thread-safe.
#ifndef SEMISYNC_TESTS_TEST_UTIL_MARIADB_H_
#define SEMISYNC_TESTS_TEST_UTIL_MARIADB_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace semisync {
namespace test_util {

// The environment variable naming the fixture's directory (holding `port`, `sock`, ...).
inline constexpr char kMariaDbDirEnv[] = "SEMISYNC_TEST_MARIADB_DIR";

// The TCP port of the test server, read from $SEMISYNC_TEST_MARIADB_DIR/port.
absl::StatusOr<int> MariaDbPortForTest();

// "mysql://host=127.0.0.1 port=P db=<db_name> user=semisync password=semisync". The database is
// not created (Storage::Open creates it). FailedPrecondition when the server is not running.
absl::StatusOr<std::string> MariaDbConnectionForTest(const std::string& db_name);

// DROP DATABASE IF EXISTS db_name on the test server (db_name must be [A-Za-z0-9_]+).
absl::Status DropMariaDbDatabaseForTest(const std::string& db_name);

// Runs one SQL statement on a fresh SOCI session to `connection` (any SOCI connection string, e.g.
// "sqlite3://db=/tmp/x.db" or one from MariaDbConnectionForTest()): for tests that reach behind the
// code under test (install a trigger, break a table). Internal with the error on failure.
absl::Status ExecuteSqlForTest(const std::string& connection, const std::string& sql);

// Runs a query on a fresh SOCI session and returns the first column of its first row as a string
// (cast it in SQL when needed). NotFound when there is no row or the value is NULL.
absl::StatusOr<std::string> QueryStringForTest(const std::string& connection,
                                               const std::string& sql);

// A SOCI session that stays open across statements, for tests that hold something on the server
// while the code under test runs (e.g. LOCK TABLES, released by UNLOCK TABLES or the destructor).
class SqlSessionForTest {
 public:
  static absl::StatusOr<std::unique_ptr<SqlSessionForTest>> Open(const std::string& connection);
  ~SqlSessionForTest();
  // Internal with the error on failure.
  absl::Status Execute(const std::string& sql);

 private:
  struct Impl;
  explicit SqlSessionForTest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// prefix + "_" + pid + "_" + a per-process counter; only [A-Za-z0-9_] (other characters of the
// prefix become '_'), at most 64 characters: valid as a MySQL database name and as a file name.
std::string UniqueTestName(const std::string& prefix);

// A new empty directory under $TEST_TMPDIR (or /tmp), named after prefix. CHECK-fails on error.
std::string MakeTempDir(const std::string& prefix);

}  // namespace test_util
}  // namespace semisync

#endif  // SEMISYNC_TESTS_TEST_UTIL_MARIADB_H_
