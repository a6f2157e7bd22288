#include "tests/test_util/mariadb.h"

// Debian's SOCI is configured with SOCI_HAVE_BOOST, which only makes bind-values.h include
// Boost.Fusion to bind fusion sequences (header-only; the library's ABI does not depend on it). We
// bind no fusion sequences and do not depend on Boost headers, so switch it off.
#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "glog/logging.h"

namespace semisync {
namespace test_util {
namespace {

constexpr char kNotRunning[] =
    "MariaDB test server not running: run via ctest, which starts it (fixture mariadb)";

bool IsValidDbName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<int> MariaDbPortForTest() {
  const char* dir = getenv(kMariaDbDirEnv);
  if (dir == nullptr || *dir == '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat(kNotRunning, " ($", kMariaDbDirEnv, " unset)"));
  }
  const std::string path = absl::StrCat(dir, "/port");
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) {
    return absl::FailedPreconditionError(absl::StrCat(kNotRunning, " (cannot read ", path, ")"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port) || port <= 0 || port > 65535) {
    return absl::FailedPreconditionError(
        absl::StrCat(kNotRunning, " (", path, " holds \"", text, "\", not a port)"));
  }
  return port;
}

absl::StatusOr<std::string> MariaDbConnectionForTest(const std::string& db_name) {
  if (!IsValidDbName(db_name)) {
    return absl::InvalidArgumentError(absl::StrCat("bad test database name \"", db_name, "\""));
  }
  absl::StatusOr<int> port = MariaDbPortForTest();
  if (!port.ok()) return port.status();
  return absl::StrCat("mysql://host=127.0.0.1 port=", *port, " db=", db_name,
                      " user=semisync password=semisync");
}

absl::Status DropMariaDbDatabaseForTest(const std::string& db_name) {
  if (!IsValidDbName(db_name)) {
    return absl::InvalidArgumentError(absl::StrCat("bad test database name \"", db_name, "\""));
  }
  absl::StatusOr<int> port = MariaDbPortForTest();
  if (!port.ok()) return port.status();
  try {
    soci::session sql(
        absl::StrCat("mysql://host=127.0.0.1 port=", *port, " user=semisync password=semisync"));
    sql << "DROP DATABASE IF EXISTS `" << db_name << "`";
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("dropping test database ", db_name, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status ExecuteSqlForTest(const std::string& connection, const std::string& sql) {
  try {
    soci::session session(connection);
    session << sql;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("executing \"", sql, "\": ", e.what()));
  }
  return absl::OkStatus();
}

struct SqlSessionForTest::Impl {
  soci::session session;
};

SqlSessionForTest::SqlSessionForTest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqlSessionForTest::~SqlSessionForTest() = default;

absl::StatusOr<std::unique_ptr<SqlSessionForTest>> SqlSessionForTest::Open(
    const std::string& connection) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->session.open(connection);
    return std::unique_ptr<SqlSessionForTest>(new SqlSessionForTest(std::move(impl)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("connecting to \"", connection, "\": ", e.what()));
  }
}

absl::Status SqlSessionForTest::Execute(const std::string& sql) {
  try {
    impl_->session << sql;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("executing \"", sql, "\": ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> QueryStringForTest(const std::string& connection,
                                               const std::string& sql) {
  try {
    soci::session session(connection);
    std::string value;
    soci::indicator ind = soci::i_ok;
    session << sql, soci::into(value, ind);
    if (!session.got_data() || ind != soci::i_ok) {
      return absl::NotFoundError(absl::StrCat("\"", sql, "\" returned no value"));
    }
    return value;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("querying \"", sql, "\": ", e.what()));
  }
}

std::string UniqueTestName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string name;
  for (char c : prefix) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  const std::string suffix = absl::StrCat("_", getpid(), "_", counter.fetch_add(1));
  if (name.size() + suffix.size() > 64) name.resize(64 - suffix.size());
  return name + suffix;
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/",
                                  UniqueTestName(prefix), "_XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  CHECK(mkdtemp(buf.data()) != nullptr) << "mkdtemp " << tmpl << ": " << std::strerror(errno);
  return std::string(buf.data());
}

}  // namespace test_util
}  // namespace semisync
