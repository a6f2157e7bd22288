// Parsing and normalising the --db connection string for Storage: which SOCI backend, the
// string every session uses, the database to create (MySQL) and a password-masked form for logs.
#ifndef SEMISYNC_SERVER_STORAGE_CONNECTION_STRING_H_
#define SEMISYNC_SERVER_STORAGE_CONNECTION_STRING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace semisync {
namespace storage_internal {

enum class Backend { kSqlite, kMysql };

// One "key=value" of a SOCI connection string; `raw` is the token as written (value quoting kept).
struct ConnParam {
  std::string key;
  std::string value;
  std::string raw;
};

// What Open() needs to know about options.connection.
struct ConnectionConfig {
  Backend backend;
  std::string backend_name;  // "sqlite3" or "mysql"
  std::string connect;       // the SOCI connection string for every session
  std::string bootstrap;     // mysql: `connect` without db=, used to create the database
  std::string database;      // mysql: the db= name
  std::string display;       // `connect` with the password masked, for messages
  std::string sqlite_path;   // sqlite3: the database file (db=, or the whole string)
};

// Splits "k1=v1 k2='v 2'" into parameters. Values may be quoted with ' or ".
absl::StatusOr<std::vector<ConnParam>> ParseParams(absl::string_view s);
// 1-64 characters of [A-Za-z0-9_].
bool IsValidDatabaseName(absl::string_view name);
// "sqlite3://db=/path/file.db" or "mysql://host=H port=P db=D user=U password=W" (db= required;
// charset=utf8mb4 and connect_timeout=10 added unless given). InvalidArgument otherwise; the
// message never repeats a password.
absl::StatusOr<ConnectionConfig> ParseConnection(absl::string_view connection);

}  // namespace storage_internal
}  // namespace semisync

#endif  // SEMISYNC_SERVER_STORAGE_CONNECTION_STRING_H_
