// HttpGateway: the HTTP/1.1 + JSON face of a node, transcoded from the gRPC services'
// `google.api.http` annotations (grpc-gateway style).
//
// Not a second code path: every routed request becomes a call to the process's own grpc::Server
// through its in-process channel, with the generic stub, so validation, accounting and
// interceptors are exactly those of gRPC clients. Routes are read once at Start() into an
// immutable RouteTable (route_table.h); JSON mapping and the field-name policy are described in
// json_transcoder.h (responses use proto field names, snake_case, and print zero values).
//
// Responses:
//   - unary: 200 with the response message as JSON, or the gRPC status mapped by
//     status_mapping.h with a google.rpc.Status JSON body {"code","message","details":[]};
//   - server streaming: newline-delimited JSON, {"result":...} per message and a final
//     {"error":...} line when the stream fails, or Server-Sent Events when the request accepts
//     text/event-stream (stream_call.h). Chunks are written as messages arrive; the stream ends
//     when the RPC ends, the client disconnects or the gateway shuts down. An RPC that fails before
//     its first message (within stream_first_message_wait) gets a plain error response instead;
//   - errors of the gateway itself, all with the JSON error body: 404 unknown path, 405 known path
//     with another method (with Allow), 400 malformed JSON / wrong types / unknown fields / bad
//     path or query values / a body where the method takes none / invalid UTF-8, 413 a body over
//     max_body_bytes, 415 a body whose Content-Type is not application/json (charset utf-8 only),
//     503 while shutting down;
//   - GET /openapi.json: the OpenAPI v2 document generated at build time (openapi.h), and any
//     handler added with AddGetHandler (e.g. /metrics).
//
// Threads: the HttpServer's accept thread and worker pool (http_server.h); unary handlers block
// their worker until the RPC completes. Thread-safety: AddGetHandler before Start(); the rest
// may be called from any thread. The grpc::Server must outlive the gateway.
#ifndef SEMISYNC_SERVER_GATEWAY_HTTP_GATEWAY_H_
#define SEMISYNC_SERVER_GATEWAY_HTTP_GATEWAY_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits for protobuf messages

namespace httplib {
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace semisync {
namespace gateway {

class HttpServer;
class RouteTable;
class StreamCall;
struct Route;

struct HttpGatewayOptions {
  std::string bind_address = "0.0.0.0";
  int port = 0;  // 0 picks a free port; Start() returns the bound one
  size_t max_body_bytes = 4u << 20;
  // Worker threads = most concurrently open HTTP connections (keep-alive, blocked writes waiting
  // for slave acks, and open streams all hold one).
  int threads = 128;
  absl::Duration keep_alive_timeout = absl::Seconds(5);
  int keep_alive_max_requests = 10000;
  absl::Duration io_timeout = absl::Seconds(10);
  // How long a streaming request waits for the first message before committing to a 200
  // response (an RPC failing sooner gets a plain error status instead).
  absl::Duration stream_first_message_wait = absl::Milliseconds(500);
  // Who is speaking in log lines ("master <uuid>", "slave <id>").
  std::string log_name = "http gateway";
};

// A response produced by an extra GET handler.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class HttpGateway {
 public:
  // `services`: full names of the gRPC services to expose ("semisync.v1.RecordsService"); they
  // must be registered on `server`.
  HttpGateway(const HttpGatewayOptions& options, grpc::Server* server,
              std::vector<std::string> services);
  ~HttpGateway();  // Shutdown(now) if still running

  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Serves `handler` at GET `path` (exact match, no query parsing), e.g. "/metrics". Call before
  // Start(). The handler runs on HTTP worker threads, possibly several at once.
  void AddGetHandler(const std::string& path, std::function<HttpResponse()> handler);

  // Builds the routes, binds and starts serving. Returns the bound port.
  absl::StatusOr<int> Start();

  // Shutdown, part 1: new requests get 503, open streams end with a final UNAVAILABLE error line
  // (waiting up to a second for them to flush it), the listening socket closes, idle keep-alive
  // connections close. Requests in flight continue.
  void BeginShutdown();
  // Part 2: waits for requests in flight until `deadline`, then cancels their RPCs, cuts any
  // blocked I/O and joins every thread. Calls BeginShutdown() first if needed.
  void Shutdown(absl::Time deadline);

 private:
  void Handle(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader* reader);
  void HandleHttplibError(const httplib::Request& req, httplib::Response& res);
  void ServeUnary(const Route& route, std::unique_ptr<google::protobuf::Message> request,
                  httplib::Response& res);
  void ServeStream(const Route& route, std::unique_ptr<google::protobuf::Message> request,
                   const httplib::Request& req, httplib::Response& res);
  void Unregister(const std::shared_ptr<StreamCall>& call);

  const HttpGatewayOptions options_;
  grpc::Server* const grpc_server_;
  const std::vector<std::string> service_names_;
  std::map<std::string, std::function<HttpResponse()>> get_handlers_;  // fixed after Start()
  std::unique_ptr<RouteTable> table_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::TemplatedGenericStub<google::protobuf::Message, google::protobuf::Message>>
      stub_;
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;

  absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> unary_calls_ ABSL_GUARDED_BY(mu_);
  std::set<std::shared_ptr<StreamCall>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_HTTP_GATEWAY_H_
