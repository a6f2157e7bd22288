// CliProcess: runs semisyncctl (or any binary) as a child process for tests, capturing stdout and
// stderr, optionally with stderr on a pseudo-terminal (to see the progress bar).
//
//   CliResult r = RunCli({"--master=" + addr, "records", "get", "1"});
//   EXPECT_EQ(r.exit_code, 0) << r;
//
// The child gets PR_SET_PDEATHSIG=SIGKILL (it dies with the test) and its own process group.
// Wait() collects output until the child exits or the deadline passes (then SIGKILL: exit_code
// -1, timed_out). Not thread-safe: drive one CliProcess from one thread.
#ifndef SEMISYNC_TESTS_CLIENTS_CLI_PROCESS_H_
#define SEMISYNC_TESTS_CLIENTS_CLI_PROCESS_H_

#include <sys/types.h>

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace semisync {
namespace clients_test {

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};
std::ostream& operator<<(std::ostream& os, const CliResult& r);

struct CliOptions {
  bool stderr_tty = false;  // stderr on a pseudo-terminal
  std::string stdin_data;   // written to the child's stdin, then closed
};

class CliProcess {
 public:
  CliProcess() = default;
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;
  // SIGKILLs and reaps a child still running.
  ~CliProcess();

  // Starts `binary` with `args`.
  absl::Status Start(const std::string& binary, const std::vector<std::string>& args,
                     const CliOptions& options = {});
  pid_t pid() const { return pid_; }
  // Reads output until the child exits (or `timeout` passes: SIGKILL), then reaps it.
  CliResult Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

// The semisyncctl binary: $SEMISYNC_CTL_BIN, else the path compiled in.
std::string CtlBinary();

// Runs semisyncctl with `args` to completion (30 s at most).
CliResult RunCli(const std::vector<std::string>& args, const CliOptions& options = {},
                 absl::Duration timeout = absl::Seconds(30));

}  // namespace clients_test
}  // namespace semisync

#endif  // SEMISYNC_TESTS_CLIENTS_CLI_PROCESS_H_
