// Connection string parsing (see connection_string.h).
#include "server/storage/connection_string.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace semisync {
namespace storage_internal {
namespace {

constexpr absl::string_view kSqlitePrefix = "sqlite3://";
constexpr absl::string_view kMysqlPrefix = "mysql://";
constexpr int kMysqlConnectTimeoutS = 10;

}  // namespace

absl::StatusOr<std::vector<ConnParam>> ParseParams(absl::string_view s) {
  std::vector<ConnParam> params;
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < s.size();) {
    if (is_space(s[i])) {
      ++i;
      continue;
    }
    const size_t start = i, eq = s.find('=', i);
    ConnParam p;
    if (eq != absl::string_view::npos) p.key = std::string(s.substr(start, eq - start));
    if (p.key.empty() || std::any_of(p.key.begin(), p.key.end(), is_space)) {
      return absl::InvalidArgumentError(
          absl::StrCat("connection string: expected key=value at \"", s.substr(start), "\""));
    }
    i = eq + 1;
    const bool quoted = i < s.size() && (s[i] == '\'' || s[i] == '"');
    const size_t end = quoted ? s.find(s[i], i + 1) : i;
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("connection string: unterminated quote in the value of ", p.key));
    }
    if (quoted) {
      p.value = std::string(s.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      while (i < s.size() && !is_space(s[i])) ++i;
      p.value = std::string(s.substr(eq + 1, i - eq - 1));
    }
    p.raw = std::string(s.substr(start, i - start));
    params.push_back(std::move(p));
  }
  return params;
}

bool IsValidDatabaseName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

absl::StatusOr<ConnectionConfig> ParseConnection(absl::string_view connection) {
  ConnectionConfig cfg;
  if (absl::StartsWith(connection, kSqlitePrefix)) {
    if (connection.size() == kSqlitePrefix.size()) {
      return absl::InvalidArgumentError(
          "sqlite3 connection string names no database file: use sqlite3://db=/path/file.db");
    }
    cfg.backend = Backend::kSqlite;
    cfg.backend_name = "sqlite3";
    cfg.connect = std::string(connection);
    cfg.display = cfg.connect;
    const absl::string_view rest = connection.substr(kSqlitePrefix.size());
    if (absl::StrContains(rest, "=")) {
      ASSIGN_OR_RETURN(std::vector<ConnParam> params, ParseParams(rest));
      for (const ConnParam& p : params) {
        if (p.key == "db" || p.key == "dbname") cfg.sqlite_path = p.value;
      }
      if (cfg.sqlite_path.empty()) {
        return absl::InvalidArgumentError(
            "sqlite3 connection string names no database file: use sqlite3://db=/path/file.db");
      }
    } else {
      cfg.sqlite_path = std::string(rest);
    }
    return cfg;
  }
  if (!absl::StartsWith(connection, kMysqlPrefix)) {
    // Not echoed: it may hold a password.
    const size_t scheme = connection.find("://");
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported connection string (",
        scheme == absl::string_view::npos ? "no backend://"
                                          : absl::StrCat("backend ", connection.substr(0, scheme)),
        "): expected \"sqlite3://db=/path/file.db\" or "
        "\"mysql://host=H port=P db=D user=U password=W\""));
  }
  cfg.backend = Backend::kMysql;
  cfg.backend_name = "mysql";
  ASSIGN_OR_RETURN(std::vector<ConnParam> params,
                   ParseParams(connection.substr(kMysqlPrefix.size())));
  std::vector<std::string> all, without_db, display;
  bool has_charset = false, has_timeout = false;
  for (const ConnParam& p : params) {
    all.push_back(p.raw);
    display.push_back(p.key == "password" || p.key == "pass" ? p.key + "=***" : p.raw);
    if (p.key == "db" || p.key == "dbname" || p.key == "service") {
      if (!IsValidDatabaseName(p.value)) {
        return absl::InvalidArgumentError(absl::StrCat("mysql database name \"", p.value,
                                                       "\" is invalid: use 1-64 of [A-Za-z0-9_]"));
      }
      cfg.database = p.value;
      continue;
    }
    has_charset |= p.key == "charset";
    has_timeout |= p.key == "connect_timeout";
    without_db.push_back(p.raw);
  }
  if (cfg.database.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("mysql connection string \"",
                                                   absl::StrJoin(display, " "),
                                                   "\" names no database: add db=NAME"));
  }
  std::vector<std::string> extra;
  if (!has_charset) extra.push_back("charset=utf8mb4");
  if (!has_timeout) extra.push_back(absl::StrCat("connect_timeout=", kMysqlConnectTimeoutS));
  for (auto* v : {&all, &without_db, &display}) v->insert(v->end(), extra.begin(), extra.end());
  cfg.connect = absl::StrCat(kMysqlPrefix, absl::StrJoin(all, " "));
  cfg.bootstrap = absl::StrCat(kMysqlPrefix, absl::StrJoin(without_db, " "));
  cfg.display = absl::StrCat(kMysqlPrefix, absl::StrJoin(display, " "));
  return cfg;
}

}  // namespace storage_internal
}  // namespace semisync
