// AsyncRpcLoop: serves the hot unary methods (record reads and writes, slave acks) on gRPC's
// completion-queue API, from threads this class owns.
//
// Why not the sync or callback API for these: on gRPC 1.51 a server that mixes callback methods
// (run by gRPC's "nexting" threads) with sync methods (reflection, streams) hands every incoming
// call between its polling threads, which cost the master about six context switches per write
// on a 2-core VM where one switch costs 15-30 µs (see docs/PERFORMANCE.md). Here the thread that
// dequeues a call runs its handler at once, and completions of many calls are drained per wake.
//
// A handler gets the call's context, request and response, and a Responder. It either finishes
// the call before returning (reads: the loop thread does the work) or keeps the Responder and
// finishes later from any thread (writes: the commit pipeline's completer). Responder::Finish
// must run exactly once.
//
// Lifecycle: construct before ServerBuilder::BuildAndStart (it adds the completion queues), add
// the methods, BuildAndStart, Start(). To stop: grpc::Server::Shutdown(), then make sure no
// handler still holds a Responder (e.g. the commit pipeline has failed its queued writes), then
// Shutdown() here, which drains the queues and joins the threads. Shutdown() must run while the
// grpc::Server still exists, on every path out (error returns too) and whether or not Start()
// ran: the server leaves tags of its own in these queues (gRPC's handler for unimplemented
// methods), and draining them reads the server, so a drain after the server is destroyed
// crashes. The destructor's Shutdown() is safe only if the server is still alive or was never
// built.
//
// Thread-safety: AddUnary before Start only; Responder::Finish from any thread.
#ifndef SEMISYNC_SERVER_ASYNC_RPC_H_
#define SEMISYNC_SERVER_ASYNC_RPC_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/status.h"

namespace semisync {

// Something a completion-queue event is for. Proceed(ok) runs on a loop thread.
class AsyncTag {
 public:
  virtual ~AsyncTag() = default;
  virtual void Proceed(bool ok) = 0;
};

// Finishes one call: Finish(status) sends the response (when status is OK) or the status.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void Finish(const grpc::Status& status) = 0;
};

template <class Req, class Resp>
using AsyncUnaryHandler =
    std::function<void(grpc::ServerContext* ctx, const Req& req, Resp* resp, Responder* done)>;

// The generated RequestFoo(ctx, req, responder, new_call_cq, notification_cq, tag) of an
// async method, bound to its service.
template <class Req, class Resp>
using AsyncUnaryRequest = std::function<void(
    grpc::ServerContext* ctx, Req* req, grpc::ServerAsyncResponseWriter<Resp>* writer,
    grpc::ServerCompletionQueue* cq, void* tag)>;

// A generated async service's RequestFoo as an AsyncUnaryRequest, e.g.
//   loop->AddUnary(AsyncRequest(&service, &Service::RequestFoo), handler);
// (RequestFoo belongs to a base class of the service, hence S and Base.)
template <class S, class Base, class Req, class Resp>
AsyncUnaryRequest<Req, Resp> AsyncRequest(
    S* service,
    void (Base::*request)(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*)) {
  Base* base = service;
  return [base, request](grpc::ServerContext* ctx, Req* req,
                         grpc::ServerAsyncResponseWriter<Resp>* writer,
                         grpc::ServerCompletionQueue* cq, void* tag) {
    (base->*request)(ctx, req, writer, cq, cq, tag);
  };
}

// Keeps a parameter out of template argument deduction (std::type_identity_t before C++20).
template <class T>
struct NonDeduced {
  using type = T;
};

class AsyncRpcLoop {
 public:
  // Adds `threads` completion queues (one thread each) to `builder`.
  AsyncRpcLoop(grpc::ServerBuilder* builder, int threads, std::string name);
  ~AsyncRpcLoop();  // Shutdown() if not done yet: the server must still exist (see Lifecycle)

  // Serves one unary method: keeps one call posted per queue, and runs `handler` for each call.
  template <class Req, class Resp>
  void AddUnary(AsyncUnaryRequest<Req, Resp> request,
                typename NonDeduced<AsyncUnaryHandler<Req, Resp>>::type handler);

  // Serves a method with call objects of the caller's (e.g. streaming): `post(cq)` creates one
  // call waiting for the method on `cq` (its tags are AsyncTags). It runs at Start for every
  // queue, and through PostNext once a call has been matched.
  void AddMethod(std::function<void(grpc::ServerCompletionQueue* cq)> post);
  // Runs post(cq) unless the loop is shutting down (see Gate).
  void PostNext(const std::function<void(grpc::ServerCompletionQueue* cq)>& post,
                grpc::ServerCompletionQueue* cq);

  // After BuildAndStart: posts the first calls and starts the threads.
  void Start();
  // After grpc::Server::Shutdown, once no Responder is outstanding, and before the grpc::Server
  // is destroyed: drains and joins.
  void Shutdown();

 private:
  template <class Req, class Resp>
  class UnaryCall;
  // Whether new calls may still be posted: a call dequeued after the queues were shut down must
  // not post its successor (gRPC aborts on a request to a shut-down queue).
  struct Gate {
    absl::Mutex mu;
    bool closed ABSL_GUARDED_BY(mu) = false;
  };
  struct Method {
    // Posts a new call of this method on `cq`.
    std::function<void(grpc::ServerCompletionQueue* cq)> post;
  };

  void Run(grpc::ServerCompletionQueue* cq);

  const std::string name_;
  Gate gate_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<Method> methods_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool shut_down_ = false;
};

// One call of a unary method: waits to be matched, runs the handler, then waits for its Finish
// to complete and deletes itself.
template <class Req, class Resp>
class AsyncRpcLoop::UnaryCall final : public AsyncTag, public Responder {
 public:
  // Posts itself on `cq` (the caller holds the gate open).
  UnaryCall(Gate* gate, const AsyncUnaryRequest<Req, Resp>* request,
            const AsyncUnaryHandler<Req, Resp>* handler, grpc::ServerCompletionQueue* cq)
      : gate_(gate), request_(request), handler_(handler), cq_(cq), writer_(&ctx_) {
    (*request_)(&ctx_, &req_, &writer_, cq_, this);
  }

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {  // Finish completed, or the server shut down before a match
      delete this;
      return;
    }
    {
      absl::MutexLock lock(&gate_->mu);
      if (!gate_->closed) new UnaryCall(gate_, request_, handler_, cq_);  // the next call
    }
    (*handler_)(&ctx_, req_, &resp_, this);
  }

  void Finish(const grpc::Status& status) override {
    finishing_ = true;
    if (status.ok()) {
      writer_.Finish(resp_, status, this);
    } else {
      writer_.FinishWithError(status, this);
    }
  }

 private:
  Gate* const gate_;
  const AsyncUnaryRequest<Req, Resp>* const request_;
  const AsyncUnaryHandler<Req, Resp>* const handler_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> writer_;
  bool finishing_ = false;
};

template <class Req, class Resp>
void AsyncRpcLoop::AddUnary(AsyncUnaryRequest<Req, Resp> request,
                            typename NonDeduced<AsyncUnaryHandler<Req, Resp>>::type handler) {
  // Owned by the method's post function, which lives as long as the loop (and so as long as any
  // call that points at them).
  auto req_fn = std::make_shared<AsyncUnaryRequest<Req, Resp>>(std::move(request));
  auto handler_fn = std::make_shared<AsyncUnaryHandler<Req, Resp>>(std::move(handler));
  Gate* gate = &gate_;
  methods_.push_back(Method{[gate, req_fn, handler_fn](grpc::ServerCompletionQueue* cq) {
    new UnaryCall<Req, Resp>(gate, req_fn.get(), handler_fn.get(), cq);
  }});
}

}  // namespace semisync

#endif  // SEMISYNC_SERVER_ASYNC_RPC_H_
