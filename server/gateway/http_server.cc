// HttpServer (see http_server.h).
#include "server/gateway/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace semisync {
namespace gateway {
namespace {

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), 1 << 30));
}

void AddressOf(int fd, bool peer, std::string* ip, int* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ip->clear();
  *port = -1;
  if (rc != 0) return;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    *port = ntohs(a->sin6_port);
  }
  *ip = buf;
}

// Set by CloseConnectionAfterResponse() on the worker thread serving the request.
thread_local bool close_after_response = false;

void Signal(int efd) {
  uint64_t one = 1;
  ssize_t n = ::write(efd, &one, sizeof(one));
  (void)n;
}

}  // namespace

// One accepted socket, as httplib's Stream. Used by one worker thread at a time.
class HttpServer::Connection final : public httplib::Stream {
 public:
  Connection(int fd, const HttpServer* server) : fd_(fd), server_(server) {
    AddressOf(fd, true, &remote_ip_, &remote_port_);
    AddressOf(fd, false, &local_ip_, &local_port_);
  }

  bool has_buffered() const { return begin_ < end_; }
  void StartRequest() { request_bytes_ = 0; }

  bool is_readable() const override { return has_buffered() || Wait(POLLIN); }

  // Writable, and the peer has not closed its side (a closed peer makes a peeked recv return 0).
  bool is_writable() const override {
    if (!Wait(POLLOUT)) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) {
      char c;
      ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
    return true;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (request_bytes_ >= server_->options_.max_request_bytes) return -1;
    size = std::min(size, server_->options_.max_request_bytes - request_bytes_);
    if (!has_buffered()) {
      if (!Wait(POLLIN)) return -1;
      if (size >= sizeof(buf_)) {  // large reads go straight to the caller
        ssize_t n = Recv(ptr, size);
        if (n > 0) request_bytes_ += n;
        return n;
      }
      ssize_t n = Recv(buf_, sizeof(buf_));
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buf_ + begin_, n);
    begin_ += n;
    request_bytes_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!Wait(POLLOUT)) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  ssize_t Recv(char* p, size_t n) {
    ssize_t r;
    do {
      r = ::recv(fd_, p, n, 0);
    } while (r < 0 && errno == EINTR);
    return r;
  }

  // Waits until the socket is ready for `events`, at most io_timeout. Fails early on AbortIo()
  // unless the socket is ready anyway.
  bool Wait(short events) const {
    pollfd p[2] = {{fd_, events, 0}, {server_->abort_fd_, POLLIN, 0}};
    int rc;
    do {
      rc = ::poll(p, 2, ToMillis(server_->options_.io_timeout));
    } while (rc < 0 && errno == EINTR);
    return rc > 0 && (p[0].revents & (events | POLLHUP | POLLERR)) != 0;
  }

  const int fd_;
  const HttpServer* const server_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = -1, local_port_ = -1;
  size_t request_bytes_ = 0;
  char buf_[16 * 1024];
  size_t begin_ = 0, end_ = 0;
};

HttpServer::HttpServer(const HttpServerOptions& options)
    : options_(options),
      drain_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      abort_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  PCHECK(drain_fd_ >= 0 && abort_fd_ >= 0) << "eventfd";
  const size_t threads = static_cast<size_t>(std::max(1, options_.threads));
  new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets two processes share a port.
  set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  set_tcp_nodelay(true);
  set_keep_alive_max_count(static_cast<size_t>(std::max(1, options_.keep_alive_max_requests)));
}

HttpServer::~HttpServer() {
  StopAccepting();
  CloseIdleConnections();
  AbortIo();
  Join();
  ::close(drain_fd_);
  ::close(abort_fd_);
}

absl::StatusOr<int> HttpServer::Start(const std::string& address, int port) {
  int bound = port == 0 ? bind_to_any_port(address) : (bind_to_port(address, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ":", port, " (address in use or invalid?)"));
  }
  // httplib listens with a backlog of 5; a burst of connections would wait for SYN retries.
  ::listen(svr_sock_.load(), options_.listen_backlog);
  listener_ = std::thread([this] { listen_after_bind(); });
  return bound;
}

void HttpServer::StopAccepting() {
  // What httplib's stop() does, without its is_running() check (which races with the start of
  // the accept thread): the accept loop sees the invalid socket, or a failing accept(), and ends.
  socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
  if (sock != INVALID_SOCKET) {
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }
}

void HttpServer::CloseIdleConnections() {
  if (!draining_.exchange(true)) Signal(drain_fd_);
}

void HttpServer::AbortIo() {
  if (!aborted_.exchange(true)) Signal(abort_fd_);
}

void HttpServer::Join() {
  if (listener_.joinable()) listener_.join();
}

void HttpServer::CloseConnectionAfterResponse() { close_after_response = true; }

bool HttpServer::WaitForRequest(int fd) const {
  pollfd p[2] = {{fd, POLLIN, 0}, {drain_fd_, POLLIN, 0}};
  int rc;
  do {
    rc = ::poll(p, 2, ToMillis(options_.keep_alive_timeout));
  } while (rc < 0 && errno == EINTR);
  return rc > 0 && (p[0].revents & POLLIN) != 0;
}

// Closes after a half-close. When request bytes may still be on their way (`linger`: a refused
// body was left unread) or are already waiting, reads and discards them for a while first: closing
// a socket with unread data sends a reset, which can destroy the response before the client has
// read it (nginx's lingering close). Bounded by 2 s in total, 500 ms of silence and 16 MiB.
void HttpServer::LingeringClose(int fd, bool linger) const {
  ::shutdown(fd, SHUT_WR);
  pollfd p[2] = {{fd, POLLIN, 0}, {abort_fd_, POLLIN, 0}};
  if (linger || ::poll(p, 1, 0) == 1) {
    char buf[16 * 1024];
    const absl::Time deadline = absl::Now() + absl::Seconds(2);
    size_t total = 0;
    while (total < (16u << 20)) {
      int wait = std::min(500, ToMillis(deadline - absl::Now()));
      if (wait <= 0 || ::poll(p, 2, wait) <= 0 || (p[0].revents & (POLLIN | POLLHUP)) == 0) break;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      total += static_cast<size_t>(n);
    }
  }
  ::close(fd);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  open_connections_.fetch_add(1, std::memory_order_relaxed);
  int one = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bool ret = false;
  {
    Connection conn(sock, this);
    for (int left = std::max(1, options_.keep_alive_max_requests); left > 0; --left) {
      if (!conn.has_buffered() && !WaitForRequest(sock)) break;
      conn.StartRequest();
      close_after_response = false;
      bool closed = false;
      ret = process_request(conn, /*close_connection=*/left == 1, closed, [](httplib::Request&) {});
      if (!ret || closed || close_after_response) break;
    }
  }
  LingeringClose(sock, close_after_response);
  open_connections_.fetch_sub(1, std::memory_order_relaxed);
  return ret;
}

}  // namespace gateway
}  // namespace semisync
