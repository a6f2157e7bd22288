// StreamCall: one server-streaming RPC made by the gateway on the in-process channel, with the
// messages turned into HTTP chunks for a streamed response.
//
// Output formats, one chunk per gRPC message:
//   NDJSON (application/x-ndjson):  {"result":<message JSON>}\n
//   SSE (text/event-stream):        data: {"result":<message JSON>}\n\n
// and, when the RPC ends with a status other than OK, a final
//   NDJSON: {"error":{"code":14,"message":"...","details":[]}}\n
//   SSE:    event: error\ndata: {"error":{...}}\n\n
//
// The RPC runs on gRPC's callback API (a ClientBidiReactor over the generic stub: one request
// written with WritesDone, then reads). At most one read is in flight and at most kMaxQueued
// messages wait for the HTTP side, so a slow HTTP client slows the gRPC stream down (flow control)
// instead of growing memory. A hold keeps OnDone from running while the HTTP side may still start
// reads; it is released by the read that fails at the end of the stream.
//
// Threads: reactions run on gRPC's callback threads; Next()/Cancel() on the HTTP worker serving
// the response. All methods are thread-safe. Owned through shared_ptr: the object keeps itself
// alive until OnDone, so the last owner may drop it at any time after Cancel().
#ifndef SEMISYNC_SERVER_GATEWAY_STREAM_CALL_H_
#define SEMISYNC_SERVER_GATEWAY_STREAM_CALL_H_

#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits for protobuf messages

namespace semisync {
namespace gateway {

using ProtoGenericStub =
    grpc::TemplatedGenericStub<google::protobuf::Message, google::protobuf::Message>;

class StreamCall final
    : public grpc::ClientBidiReactor<google::protobuf::Message, google::protobuf::Message>,
      public std::enable_shared_from_this<StreamCall> {
 public:
  enum class Format { kNdjson, kSse };
  enum class Next { kData, kTimeout, kEnd };
  static constexpr size_t kMaxQueued = 8;

  StreamCall(std::unique_ptr<google::protobuf::Message> request,
             const google::protobuf::Message* response_prototype, std::string response_body_field,
             Format format);

  // Starts the RPC. `method` ("/pkg.Service/Method") must outlive the call.
  void Start(ProtoGenericStub* stub, const std::string& method);

  // Waits until the first message arrives or the RPC ends, at most until `deadline`. Returns true
  // and the status when the RPC ended without sending any message (so the HTTP side can answer
  // with a plain error response instead of a stream).
  bool WaitForFirst(absl::Time deadline, grpc::Status* ended);

  // The next chunk to send, waiting until `deadline` at most:
  //   kData: `chunk` holds one formatted message;
  //   kTimeout: nothing yet (the caller checks its client is still there and calls again);
  //   kEnd: the RPC is over; `chunk` holds the error line, or is empty after OK.
  Next NextChunk(absl::Time deadline, std::string* chunk);

  // Ends the RPC early (client gone, shutdown). When `reason` is not OK it replaces the
  // CANCELLED status in the final error line. Idempotent.
  void Cancel(const grpc::Status& reason);

  // Blocks until OnDone has run.
  void WaitDone();

  // Formats a final error line for `status` in the given format.
  static std::string ErrorChunk(Format format, const grpc::Status& status);

 private:
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  // Starts a read when none is in flight, the queue has room, and reads have not ended.
  void MaybeStartRead();
  // The RPC's status, with the cancellation reason in place of our own CANCELLED.
  grpc::Status FinalStatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<google::protobuf::Message> request_;
  const google::protobuf::Message* const response_prototype_;
  const std::string response_body_field_;
  const Format format_;
  grpc::ClientContext ctx_;

  absl::Mutex mu_;
  std::shared_ptr<StreamCall> self_ ABSL_GUARDED_BY(mu_);  // set from Start() until OnDone
  std::unique_ptr<google::protobuf::Message> reading_ ABSL_GUARDED_BY(mu_);  // read target
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool got_message_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool end_reported_ ABSL_GUARDED_BY(mu_) = false;
  bool ctx_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  grpc::Status cancel_reason_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<google::protobuf::Message>> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_STREAM_CALL_H_
