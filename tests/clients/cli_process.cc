// CliProcess (see cli_process.h).
#include "tests/clients/cli_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace semisync {
namespace clients_test {
namespace {

#ifndef SEMISYNC_CTL_BIN
#define SEMISYNC_CTL_BIN ""
#endif

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const CliResult& r) {
  return os << "exit " << r.exit_code << (r.timed_out ? " (timed out)" : "") << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err << "---";
}

std::string CtlBinary() {
  const char* env = getenv("SEMISYNC_CTL_BIN");
  return env != nullptr && *env != '\0' ? env : SEMISYNC_CTL_BIN;
}

CliProcess::~CliProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
}

absl::Status CliProcess::Start(const std::string& binary, const std::vector<std::string>& args,
                               const CliOptions& options) {
  int out_pipe[2], in_pipe[2], err_fds[2];  // err_fds: [read end, write end]
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(in_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  if (options.stderr_tty) {
    if (openpty(&err_fds[0], &err_fds[1], nullptr, nullptr, nullptr) != 0) {
      return absl::InternalError(absl::StrCat("openpty: ", strerror(errno)));
    }
    fcntl(err_fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(err_fds[1], F_SETFD, FD_CLOEXEC);
  } else if (pipe2(err_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  // Everything the child needs is built before fork.
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_fds[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    static const char kMsg[] = "cli_process: execv failed\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    _exit(127);
  }
  pid_ = pid;
  close(out_pipe[1]);
  close(err_fds[1]);
  close(in_pipe[0]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_fds[0];
  // Small inputs only (tests): fits the pipe buffer, so this cannot block on the child.
  if (!options.stdin_data.empty()) {
    (void)!write(in_pipe[1], options.stdin_data.data(), options.stdin_data.size());
  }
  close(in_pipe[1]);
  return absl::OkStatus();
}

CliResult CliProcess::Wait(absl::Duration timeout) {
  CliResult result;
  if (pid_ <= 0) return result;
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  // Read until both streams reach EOF (a pty reports EIO once the child closed it).
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result.timed_out = true;
      kill(pid_, SIGKILL);
      break;
    }
    pollfd fds[2];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    int ready = poll(fds, n, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        (fds[i].fd == out_fd_ ? result.out : result.err).append(buf, got);
      } else if (got == 0 || errno != EINTR) {
        CloseFd(fds[i].fd == out_fd_ ? &out_fd_ : &err_fd_);
      }
    }
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
  result.exit_code = WIFEXITED(status) && !result.timed_out ? WEXITSTATUS(status) : -1;
  return result;
}

CliResult RunCli(const std::vector<std::string>& args, const CliOptions& options,
                 absl::Duration timeout) {
  CliProcess process;
  absl::Status s = process.Start(CtlBinary(), args, options);
  if (!s.ok()) {
    CliResult r;
    r.err = s.ToString();
    return r;
  }
  return process.Wait(timeout);
}

}  // namespace clients_test
}  // namespace semisync
