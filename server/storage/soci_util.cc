#include "server/storage/soci_util.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace semisync {
namespace storage_internal {

// A SOCI (or other) exception as a Status: Unavailable for lost or refused connections.
absl::Status ErrorStatus(const std::exception& e, absl::string_view context) {
  const auto* se = dynamic_cast<const soci::soci_error*>(&e);
  // SOCI appends the bound values to its messages: keep a huge row out of logs and RPC errors.
  constexpr size_t kMaxDetail = 2048;
  absl::string_view detail = e.what();
  std::string message = absl::StrCat(context, ": ", detail.substr(0, kMaxDetail));
  if (detail.size() > kMaxDetail) {
    absl::StrAppend(&message, "... (", detail.size() - kMaxDetail, " more bytes)");
  }
  if (se != nullptr && se->get_error_category() == soci::soci_error::connection_error) {
    return absl::UnavailableError(std::move(message));
  }
  return absl::InternalError(std::move(message));
}

}  // namespace storage_internal
}  // namespace semisync
