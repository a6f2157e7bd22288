// `semisyncctl load`: a bulk writer on the shared load generator (client/load_generator.h), with a
// progress bar on stderr when stderr is a terminal, and a summary on stdout.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli.h"
#include "client/cli_output.h"
#include "client/cli_rpc.h"
#include "client/load_generator.h"

namespace semisync {
namespace cli {

int RunLoad(const CliOptions& o, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError("usage: load [--clients=N] [--duration_s=S | --count=K] [--content_bytes=B]");
  }
  if (o.clients < 1 || o.clients > 1000) return UsageError("--clients must be between 1 and 1000");
  if (o.count < 0) return UsageError("--count must not be negative");
  if (o.count == 0 && o.duration_s <= 0) return UsageError("--duration_s must be positive");
  if (o.content_bytes < 1 || o.content_bytes > (1 << 20)) {
    return UsageError("--content_bytes must be between 1 and 1048576");
  }
  if (o.read_pct < 0 || o.read_pct > 100) {
    return UsageError("--read_pct must be between 0 and 100");
  }

  client::LoadOptions load;
  load.target = o.master;
  load.clients = o.clients;
  load.count = o.count;
  load.duration = absl::Seconds(o.duration_s);
  load.content_bytes = o.content_bytes;
  load.read_pct = o.read_pct;
  load.rpc_timeout = o.timeout;
  const bool tty = isatty(STDERR_FILENO);
  if (tty) {
    load.progress_interval = absl::Milliseconds(100);
    load.on_progress = [&o](const client::LoadProgress& p) {
      const std::string line =
          FormatProgress(p.done, p.errors, absl::ToDoubleSeconds(p.elapsed), o.count,
                         o.duration_s);
      fprintf(stderr, "\r%s\x1b[K", line.c_str());
      fflush(stderr);
    };
  }
  absl::StatusOr<client::LoadSummary> summary = client::RunLoad(load);
  if (tty) fprintf(stderr, "\r\x1b[K");  // clear the bar
  if (!summary.ok()) {
    if (absl::IsInvalidArgument(summary.status())) {
      return UsageError(std::string(summary.status().message()));
    }
    return ReportError(grpc::Status(static_cast<grpc::StatusCode>(summary.status().code()),
                                    std::string(summary.status().message())));
  }
  Print(o.json ? client::SummaryJson(*summary) + "\n" : client::SummaryText(*summary));
  if (summary->errors == 0) return kExitOk;
  // Some operations failed: the last error says which kind; the exit code says "server errors".
  fprintf(stderr, "error: %s: %s (%llu of %llu operations failed)\n",
          summary->last_error_code.c_str(), summary->last_error.c_str(),
          static_cast<unsigned long long>(summary->errors),
          static_cast<unsigned long long>(summary->errors + summary->writes + summary->reads));
  return kExitServerError;
}

}  // namespace cli
}  // namespace semisync
