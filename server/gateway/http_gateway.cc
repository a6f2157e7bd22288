// HttpGateway (see http_gateway.h).
#include "server/gateway/http_gateway.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "glog/logging.h"
#include "server/gateway/http_server.h"
#include "server/gateway/json_transcoder.h"
#include "server/gateway/openapi.h"
#include "server/gateway/route_table.h"
#include "server/gateway/status_mapping.h"
#include "server/gateway/stream_call.h"
#include "server/gateway/utf8.h"

namespace semisync {
namespace gateway {
namespace {

constexpr char kJson[] = "application/json";

void SendError(httplib::Response& res, int http_status, absl::string_view message) {
  res.status = http_status;
  res.set_content(ErrorBodyJson(GrpcCodeForGatewayError(http_status), message), kJson);
}

void SendGrpcError(httplib::Response& res, const grpc::Status& status) {
  res.status = HttpStatusFromGrpcCode(status.error_code());
  res.set_content(ErrorBodyJson(status.error_code(), status.error_message()), kJson);
}

// The request's body was (partly) left unread: answer, then close the connection.
void SendErrorAndClose(httplib::Response& res, int http_status, absl::string_view message) {
  SendError(res, http_status, message);
  res.set_header("Connection", "close");
  HttpServer::CloseConnectionAfterResponse();
}

// OK for "application/json" with an optional utf-8 charset; otherwise the reason.
bool CheckJsonContentType(absl::string_view content_type, std::string* why) {
  std::vector<absl::string_view> parts = absl::StrSplit(content_type, ';');
  std::string media = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0]));
  if (media != kJson) {
    *why = content_type.empty() ? "a request body needs Content-Type: application/json"
                                : absl::StrCat("unsupported Content-Type \"", content_type,
                                               "\": the body must be application/json");
    return false;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
    if (!absl::StartsWithIgnoreCase(p, "charset=")) continue;
    std::string charset = absl::AsciiStrToLower(absl::StripAsciiWhitespace(p.substr(8)));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    if (charset != "utf-8" && charset != "utf8") {
      *why = absl::StrCat("unsupported charset \"", charset, "\": JSON bodies must be UTF-8");
      return false;
    }
  }
  return true;
}

}  // namespace

HttpGateway::HttpGateway(const HttpGatewayOptions& options, grpc::Server* server,
                         std::vector<std::string> services)
    : options_(options), grpc_server_(server), service_names_(std::move(services)) {}

HttpGateway::~HttpGateway() { Shutdown(absl::Now()); }

void HttpGateway::AddGetHandler(const std::string& path, std::function<HttpResponse()> handler) {
  CHECK(http_ == nullptr) << "AddGetHandler after Start()";
  get_handlers_[path] = std::move(handler);
}

absl::StatusOr<int> HttpGateway::Start() {
  CHECK(http_ == nullptr) << "Start() called twice";
  absl::StatusOr<std::unique_ptr<RouteTable>> table = RouteTable::Build(service_names_);
  if (!table.ok()) return table.status();
  table_ = std::move(*table);
  if (get_handlers_.count("/openapi.json") == 0) {
    absl::StatusOr<std::string> doc = OpenApiForServices(table_->services());
    if (!doc.ok()) return doc.status();
    get_handlers_["/openapi.json"] = [doc = *std::move(doc)] {
      return HttpResponse{200, kJson, doc};
    };
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // the server's limits apply; responses may be large
  channel_ = grpc_server_->InProcessChannel(args);
  stub_ = std::make_unique<ProtoGenericStub>(channel_);

  HttpServerOptions so;
  so.threads = options_.threads;
  so.keep_alive_timeout = options_.keep_alive_timeout;
  so.keep_alive_max_requests = options_.keep_alive_max_requests;
  so.io_timeout = options_.io_timeout;
  so.max_request_bytes = options_.max_body_bytes + (64u << 10);
  http_ = std::make_unique<HttpServer>(so);
  http_->set_payload_max_length(options_.max_body_bytes);
  const std::string any = "[\\s\\S]*";
  auto plain = [this](const httplib::Request& req, httplib::Response& res) {
    Handle(req, res, nullptr);
  };
  auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) { Handle(req, res, &reader); };
  http_->Get(any, plain);
  http_->Options(any, plain);
  http_->Post(any, plain).Post(any, with_body);
  http_->Put(any, plain).Put(any, with_body);
  http_->Patch(any, plain).Patch(any, with_body);
  http_->Delete(any, plain).Delete(any, with_body);
  http_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    HandleHttplibError(req, res);
  });

  absl::StatusOr<int> port = http_->Start(options_.bind_address, options_.port);
  if (!port.ok()) {
    http_.reset();
    return port.status();
  }
  port_ = *port;
  LOG(INFO) << options_.log_name << ": serving HTTP/JSON on " << options_.bind_address << ":"
            << port_ << " (" << table_->routes().size() << " routes for "
            << absl::StrJoin(service_names_, ", ") << ")";
  return port_;
}

void HttpGateway::Handle(const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader* reader) {
  {
    absl::MutexLock l(&mu_);
    if (draining_) {
      SendErrorAndClose(res, 503, "the server is shutting down");
      return;
    }
  }
  absl::string_view target = req.target;
  absl::string_view path = target.substr(0, target.find('?'));
  absl::string_view query =
      path.size() < target.size() ? target.substr(path.size() + 1) : absl::string_view();
  VLOG(1) << options_.log_name << ": HTTP " << req.method << " " << req.target;

  // Body: read it now (bounded), so that every answer leaves the connection reusable.
  std::string body;
  const bool has_body = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
  if (reader != nullptr && has_body) {
    // (Without either header a request has no body, RFC 9112 6.3; httplib would read to EOF.)
    const uint64_t declared = req.get_header_value<uint64_t>("Content-Length");
    if (declared > options_.max_body_bytes) {
      SendErrorAndClose(res, 413,
                        absl::StrCat("request body of ", declared, " bytes is over the limit of ",
                                     options_.max_body_bytes, " bytes"));
      return;
    }
    bool too_large = false;
    bool ok = (*reader)([&](const char* data, size_t n) {
      if (body.size() + n > options_.max_body_bytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (too_large) {
      SendErrorAndClose(
          res, 413,
          absl::StrCat("request body is over the limit of ", options_.max_body_bytes, " bytes"));
      return;
    }
    if (!ok) {
      SendErrorAndClose(res, 400, "could not read the request body");
      return;
    }
  } else if (reader == nullptr && (req.get_header_value<uint64_t>("Content-Length") > 0 ||
                                   req.has_header("Transfer-Encoding"))) {
    // httplib (0.11) reads bodies of POST, PUT, PATCH and DELETE only; anything else left on the
    // connection would be parsed as the next request.
    SendErrorAndClose(res, 400, absl::StrCat(req.method, " requests take no body here"));
    return;
  }

  if (auto it = get_handlers_.find(std::string(path)); it != get_handlers_.end()) {
    if (req.method != "GET") {
      res.set_header("Allow", "GET");
      SendError(res, 405, absl::StrCat("method ", req.method, " is not allowed on ", path));
      return;
    }
    HttpResponse r = it->second();
    res.status = r.status;
    res.set_content(r.body, r.content_type);
    return;
  }

  PathMatch m = table_->matcher().Match(req.method, path);
  switch (m.kind) {
    case PathMatch::Kind::kFound:
      break;
    case PathMatch::Kind::kNotFound:
      SendError(res, 404, absl::StrCat("no route for ", JsonQuote(path)));
      return;
    case PathMatch::Kind::kMethodNotAllowed: {
      std::string allow = absl::StrJoin(m.allowed_methods, ", ");
      res.set_header("Allow", allow);
      SendError(res, 405,
                absl::StrCat("method ", req.method, " is not allowed on ", path,
                             " (allowed: ", allow, ")"));
      return;
    }
    case PathMatch::Kind::kBadPath:
      SendError(res, 400, m.error);
      return;
  }
  const Route& route = table_->route(m.route);

  if (!body.empty()) {
    if (route.body_field.empty()) {
      SendError(res, 400,
                absl::StrCat(req.method, " ", route.http_template, " takes no request body"));
      return;
    }
    std::string why;
    if (!CheckJsonContentType(req.get_header_value("Content-Type"), &why)) {
      SendError(res, 415, why);
      return;
    }
    if (size_t bad = FirstInvalidUtf8(body); bad != body.size()) {
      SendError(res, 400, absl::StrCat("request body is not valid UTF-8 (byte offset ", bad, ")"));
      return;
    }
  }
  QueryParams params;
  if (absl::Status s = ParseQueryString(query, &params); !s.ok()) {
    SendError(res, 400, s.message());
    return;
  }
  std::unique_ptr<google::protobuf::Message> request(route.request_prototype->New());
  if (absl::Status s = TranscodeRequest(route.body_field, body, m.bindings, params, request.get());
      !s.ok()) {
    SendError(res, s.code() == absl::StatusCode::kInvalidArgument ? 400 : 500, s.message());
    return;
  }
  if (route.server_streaming) {
    ServeStream(route, std::move(request), req, res);
  } else {
    ServeUnary(route, std::move(request), res);
  }
}

void HttpGateway::ServeUnary(const Route& route, std::unique_ptr<google::protobuf::Message> request,
                             httplib::Response& res) {
  grpc::ClientContext ctx;
  {
    absl::MutexLock l(&mu_);
    if (shut_down_) {
      SendError(res, 503, "the server is shutting down");
      return;
    }
    unary_calls_.insert(&ctx);
  }
  std::unique_ptr<google::protobuf::Message> response(route.response_prototype->New());
  absl::Notification done;
  grpc::Status status;
  stub_->UnaryCall(&ctx, route.grpc_path, grpc::StubOptions(), request.get(), response.get(),
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
  done.WaitForNotification();
  {
    absl::MutexLock l(&mu_);
    unary_calls_.erase(&ctx);
  }
  if (!status.ok()) {
    SendGrpcError(res, status);
    return;
  }
  std::string json;
  if (absl::Status s = ResponseToJson(*response, route.response_body_field, &json); !s.ok()) {
    SendError(res, 500, s.message());
    return;
  }
  res.status = 200;
  res.set_content(std::move(json), kJson);
}

void HttpGateway::ServeStream(const Route& route,
                              std::unique_ptr<google::protobuf::Message> request,
                              const httplib::Request& req, httplib::Response& res) {
  const bool sse = absl::StrContains(req.get_header_value("Accept"), "text/event-stream");
  auto call = std::make_shared<StreamCall>(
      std::move(request), route.response_prototype, route.response_body_field,
      sse ? StreamCall::Format::kSse : StreamCall::Format::kNdjson);
  {
    absl::MutexLock l(&mu_);
    if (draining_) {
      SendError(res, 503, "the server is shutting down");
      return;
    }
    streams_.insert(call);
  }
  call->Start(stub_.get(), route.grpc_path);
  grpc::Status ended;
  if (call->WaitForFirst(absl::Now() + options_.stream_first_message_wait, &ended) && !ended.ok()) {
    call->WaitDone();
    Unregister(call);
    SendGrpcError(res, ended);
    return;
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  if (sse) res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      sse ? "text/event-stream" : "application/x-ndjson",
      [call](size_t, httplib::DataSink& sink) {
        std::string chunk;
        // Wake every second without data so httplib checks that the client is still there.
        switch (call->NextChunk(absl::Now() + absl::Seconds(1), &chunk)) {
          case StreamCall::Next::kData:
            return sink.write(chunk.data(), chunk.size());
          case StreamCall::Next::kTimeout:
            return true;
          case StreamCall::Next::kEnd:
            if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
            sink.done();
            return true;
        }
        return false;
      },
      [this, call](bool) {
        call->Cancel(grpc::Status::OK);  // no-op when the RPC already ended
        call->WaitDone();
        Unregister(call);
      });
}

void HttpGateway::Unregister(const std::shared_ptr<StreamCall>& call) {
  absl::MutexLock l(&mu_);
  streams_.erase(call);
}

void HttpGateway::HandleHttplibError(const httplib::Request& req, httplib::Response& res) {
  if (!res.body.empty()) return;  // one of ours, already JSON
  if (res.status == 400 && !req.target.empty() &&
      (req.method == "TRACE" || req.method == "CONNECT")) {
    // Parsed fine but httplib has no route for these methods: answer 404/405 like any other.
    res.status = -1;
    Handle(req, res, nullptr);
    return;
  }
  switch (res.status) {
    case 413:
      SendErrorAndClose(
          res, 413,
          absl::StrCat("request body is over the limit of ", options_.max_body_bytes, " bytes"));
      return;
    case 400:
      SendErrorAndClose(res, 400, "malformed HTTP request");
      return;
    case 414:
      SendErrorAndClose(res, 414, "request URI too long");
      return;
    default:
      SendError(res, res.status, absl::StrCat("HTTP error ", res.status));
  }
}

void HttpGateway::BeginShutdown() {
  std::set<std::shared_ptr<StreamCall>> streams;
  {
    absl::MutexLock l(&mu_);
    if (draining_ || http_ == nullptr) return;
    draining_ = true;
    streams = streams_;
  }
  LOG(INFO) << options_.log_name << ": HTTP gateway shutting down (" << streams.size()
            << " open streams)";
  const grpc::Status reason(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  for (const auto& s : streams) s->Cancel(reason);
  streams.clear();
  {
    // httplib stops writing streamed responses once the listening socket is closed: let the
    // streams flush their final error line first.
    absl::MutexLock l(&mu_);
    auto no_streams = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&no_streams), absl::Seconds(1));
  }
  http_->StopAccepting();
  http_->CloseIdleConnections();
}

void HttpGateway::Shutdown(absl::Time deadline) {
  BeginShutdown();
  {
    absl::MutexLock l(&mu_);
    if (shut_down_ || http_ == nullptr) return;
    shut_down_ = true;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return unary_calls_.empty(); };
    if (!mu_.AwaitWithDeadline(absl::Condition(&idle), deadline)) {
      LOG(WARNING) << options_.log_name << ": cancelling " << unary_calls_.size()
                   << " HTTP requests still in flight";
      for (grpc::ClientContext* ctx : unary_calls_) ctx->TryCancel();
      mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(1));
    }
  }
  http_->AbortIo();
  http_->Join();
  LOG(INFO) << options_.log_name << ": HTTP gateway stopped";
}

}  // namespace gateway
}  // namespace semisync
