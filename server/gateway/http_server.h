// HttpServer: cpp-httplib's request parsing, routing and response writing, with our own
// connection loop and socket I/O underneath.
//
// Why not httplib's own loop: it gives no handle on accepted connections, so an idle keep-alive
// connection holds shutdown up for its whole keep-alive timeout; its listening socket sets
// SO_REUSEPORT (a second process could silently share the port) with a backlog of 5; and its
// sockets can raise SIGPIPE. Here each connection runs on a pool thread in
// process_and_close_socket(), waits for the next request with poll() on the socket and on
// "drain" / "abort" eventfds, and reads and writes through Connection (buffered reads, per-request
// byte cap, MSG_NOSIGNAL writes, every wait bounded by io_timeout and cut short by AbortIo()).
//
// Threads: one accept thread (httplib's listen loop) and a pool of `threads` workers; each open
// connection occupies one worker for its lifetime (so `threads` bounds concurrent connections,
// including idle keep-alive ones and open streams). Handlers run on the workers.
// Thread-safety: the shutdown methods may be called from any thread, in the documented order.
#ifndef SEMISYNC_SERVER_GATEWAY_HTTP_SERVER_H_
#define SEMISYNC_SERVER_GATEWAY_HTTP_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace semisync {
namespace gateway {

struct HttpServerOptions {
  // Worker threads = most concurrently open connections.
  int threads = 128;
  // An idle keep-alive connection is closed after this long without a new request.
  absl::Duration keep_alive_timeout = absl::Seconds(5);
  // Requests served on one connection before it is closed (Connection: close on the last).
  int keep_alive_max_requests = 10000;
  // Longest wait for one read or write once a request has started.
  absl::Duration io_timeout = absl::Seconds(10);
  // Most bytes (request line, headers and body) read for one request; a request that goes past
  // it fails and its connection is closed. Must exceed the gateway's body limit.
  size_t max_request_bytes = (4u << 20) + (64u << 10);
  int listen_backlog = 1024;
};

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(const HttpServerOptions& options);
  ~HttpServer() override;

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds address:port (port 0 picks a free one) and starts the accept thread. Returns the bound
  // port. Call once, after registering handlers.
  absl::StatusOr<int> Start(const std::string& address, int port);

  // Graceful shutdown, in this order (each step is idempotent):
  // 1. StopAccepting: close the listening socket. Note that httplib stops writing chunked
  //    (streamed) responses once this is done, so end streams before.
  void StopAccepting();
  // 2. CloseIdleConnections: connections waiting for a request close now; busy ones after their
  //    current response (requests already readable are still served).
  void CloseIdleConnections();
  // 3. AbortIo: every blocked read or write fails now (for a hard deadline).
  void AbortIo();
  // 4. Join: wait for the accept thread and every connection to finish.
  void Join();

  // Called from a handler: close the connection once the current response is written, lingering
  // to drain the unread request body first (after refusing a body, say). The handler should also
  // set "Connection: close" on its response.
  static void CloseConnectionAfterResponse();

  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  int open_connections() const { return open_connections_.load(std::memory_order_relaxed); }

 private:
  class Connection;
  friend class Connection;

  bool process_and_close_socket(socket_t sock) override;
  // Waits for the next request on an idle connection: true when bytes arrived.
  bool WaitForRequest(int fd) const;
  void LingeringClose(int fd, bool linger) const;

  const HttpServerOptions options_;
  const int drain_fd_;  // eventfd, readable once CloseIdleConnections() ran
  const int abort_fd_;  // eventfd, readable once AbortIo() ran
  std::atomic<bool> draining_{false};
  std::atomic<bool> aborted_{false};
  std::atomic<int> open_connections_{0};
  std::thread listener_;
};

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_HTTP_SERVER_H_
