// BackendsUnderTest(): the backends a replication test binary instantiates its cases for. CMake
// compiles this file once per binary with SEMISYNC_IT_BACKENDS="sqlite" or "mariadb"; without the
// definition (a hand-made build) both.
#include <string>
#include <vector>

#include "tests/integration/cluster.h"

namespace semisync {
namespace integration {

std::vector<Backend> BackendsUnderTest() {
#ifdef SEMISYNC_IT_BACKENDS
  const std::string only = SEMISYNC_IT_BACKENDS;
  if (only == "sqlite") return {Backend::kSqlite};
  if (only == "mariadb") return {Backend::kMariaDb};
#endif
  return {Backend::kSqlite, Backend::kMariaDb};
}

}  // namespace integration
}  // namespace semisync
