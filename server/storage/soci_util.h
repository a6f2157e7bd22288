// SOCI helpers shared by Storage (storage.cc) and its batch writer (batch_writer.cc): the SOCI
// headers as we build them, exceptions as absl::Status, and statements prepared once and bound to
// variables. Internal to server/storage.
#ifndef SEMISYNC_SERVER_STORAGE_SOCI_UTIL_H_
#define SEMISYNC_SERVER_STORAGE_SOCI_UTIL_H_

// Debian's SOCI is configured with SOCI_HAVE_BOOST, which only makes bind-values.h include
// Boost.Fusion to bind fusion sequences (header-only; the library's ABI does not depend on it). We
// bind no fusion sequences and do not depend on Boost headers, so switch it off.
#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>

#include <exception>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace semisync {
namespace storage_internal {

// A SOCI (or other) exception as a Status: Unavailable for lost or refused connections.
absl::Status ErrorStatus(const std::exception& e, absl::string_view context);

// Runs `f` (returning Status or StatusOr<T>), turning exceptions into a Status.
template <typename F>
auto RunSql(absl::string_view context, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return ErrorStatus(e, context);
  }
}

// Prepares `text` on `sql` once, `bind` adding its use() and into() elements; executing the
// statement again re-reads the variables those are bound to.
template <typename Bind>
std::unique_ptr<soci::statement> PrepareStatement(soci::session& sql, const std::string& text,
                                                  Bind&& bind) {
  auto st = std::make_unique<soci::statement>(sql);
  bind(*st);
  st->alloc();
  st->prepare(text);
  st->define_and_bind();
  return st;
}


}  // namespace storage_internal
}  // namespace semisync

#endif  // SEMISYNC_SERVER_STORAGE_SOCI_UTIL_H_
