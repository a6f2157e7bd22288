// StreamCall (see stream_call.h).
#include "server/gateway/stream_call.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/gateway/json_transcoder.h"
#include "server/gateway/status_mapping.h"

namespace semisync {
namespace gateway {
namespace {

std::string Frame(StreamCall::Format format, absl::string_view json) {
  if (format == StreamCall::Format::kSse) return absl::StrCat("data: ", json, "\n\n");
  return absl::StrCat(json, "\n");
}

}  // namespace

StreamCall::StreamCall(std::unique_ptr<google::protobuf::Message> request,
                       const google::protobuf::Message* response_prototype,
                       std::string response_body_field, Format format)
    : request_(std::move(request)),
      response_prototype_(response_prototype),
      response_body_field_(std::move(response_body_field)),
      format_(format) {}

void StreamCall::Start(ProtoGenericStub* stub, const std::string& method) {
  google::protobuf::Message* target;
  {
    absl::MutexLock l(&mu_);
    self_ = shared_from_this();
    reading_.reset(response_prototype_->New());
    target = reading_.get();
    read_in_flight_ = true;
  }
  stub->PrepareBidiStreamingCall(&ctx_, method, grpc::StubOptions(), this);
  StartWriteLast(request_.get(), grpc::WriteOptions());
  StartRead(target);
  AddHold();  // released by OnReadDone(false), see the header
  StartCall();
}

void StreamCall::MaybeStartRead() {
  google::protobuf::Message* target;
  {
    absl::MutexLock l(&mu_);
    const bool cancelled = !cancel_reason_.ok() || ctx_cancelled_;
    if (read_in_flight_ || reads_ended_ || (!cancelled && queue_.size() >= kMaxQueued)) return;
    read_in_flight_ = true;
    reading_.reset(response_prototype_->New());
    target = reading_.get();
  }
  StartRead(target);
}

void StreamCall::OnReadDone(bool ok) {
  {
    absl::MutexLock l(&mu_);
    read_in_flight_ = false;
    if (ok) {
      got_message_ = true;
      queue_.push_back(std::move(reading_));
    } else {
      reads_ended_ = true;
    }
  }
  if (!ok) {
    RemoveHold();
    return;
  }
  MaybeStartRead();
}

void StreamCall::OnDone(const grpc::Status& status) {
  std::shared_ptr<StreamCall> keep;  // may delete `this` when it goes out of scope, last
  absl::MutexLock l(&mu_);
  done_ = true;
  status_ = status;
  keep = std::move(self_);
}

bool StreamCall::WaitForFirst(absl::Time deadline, grpc::Status* ended) {
  absl::MutexLock l(&mu_);
  auto first_or_done = [this]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return got_message_ || done_; };
  mu_.AwaitWithDeadline(absl::Condition(&first_or_done), deadline);
  if (got_message_ || !done_) return false;
  *ended = FinalStatusLocked();
  return true;
}

StreamCall::Next StreamCall::NextChunk(absl::Time deadline, std::string* chunk) {
  chunk->clear();
  std::unique_ptr<google::protobuf::Message> msg;
  {
    absl::MutexLock l(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || done_; };
    mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (!queue_.empty()) {
      msg = std::move(queue_.front());
      queue_.pop_front();
    } else if (done_) {
      if (!end_reported_) {
        end_reported_ = true;
        grpc::Status s = FinalStatusLocked();
        if (!s.ok()) *chunk = ErrorChunk(format_, s);
      }
      return Next::kEnd;
    } else {
      return Next::kTimeout;
    }
  }
  MaybeStartRead();
  std::string json;
  absl::Status s = ResponseToJson(*msg, response_body_field_, &json);
  if (!s.ok()) {
    Cancel(grpc::Status(grpc::StatusCode::INTERNAL, std::string(s.message())));
    return NextChunk(deadline, chunk);
  }
  *chunk = Frame(format_, absl::StrCat("{\"result\":", json, "}"));
  return Next::kData;
}

grpc::Status StreamCall::FinalStatusLocked() const {
  if (status_.error_code() == grpc::StatusCode::CANCELLED && !cancel_reason_.ok()) {
    return cancel_reason_;
  }
  return status_;
}

void StreamCall::Cancel(const grpc::Status& reason) {
  {
    absl::MutexLock l(&mu_);
    if (!reason.ok() && cancel_reason_.ok()) cancel_reason_ = reason;
    ctx_cancelled_ = true;
  }
  ctx_.TryCancel();
  MaybeStartRead();  // so the end of the stream is observed even when reading was paused
}

void StreamCall::WaitDone() {
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(&done_));
}

std::string StreamCall::ErrorChunk(Format format, const grpc::Status& status) {
  std::string body =
      absl::StrCat("{\"error\":", ErrorBodyJson(status.error_code(), status.error_message()), "}");
  if (format == Format::kSse) return absl::StrCat("event: error\ndata: ", body, "\n\n");
  return absl::StrCat(body, "\n");
}

}  // namespace gateway
}  // namespace semisync
