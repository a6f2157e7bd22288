// AsyncRpcLoop (see async_rpc.h).
#include "server/async_rpc.h"

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "glog/logging.h"

namespace semisync {

AsyncRpcLoop::AsyncRpcLoop(grpc::ServerBuilder* builder, int threads, std::string name)
    : name_(std::move(name)) {
  CHECK_GE(threads, 1) << "AsyncRpcLoop needs at least one thread";
  for (int i = 0; i < threads; ++i) cqs_.push_back(builder->AddCompletionQueue());
}

AsyncRpcLoop::~AsyncRpcLoop() { Shutdown(); }

void AsyncRpcLoop::AddMethod(std::function<void(grpc::ServerCompletionQueue* cq)> post) {
  methods_.push_back(Method{std::move(post)});
}

void AsyncRpcLoop::PostNext(const std::function<void(grpc::ServerCompletionQueue* cq)>& post,
                            grpc::ServerCompletionQueue* cq) {
  absl::MutexLock lock(&gate_.mu);
  if (!gate_.closed) post(cq);
}

void AsyncRpcLoop::Start() {
  CHECK(!started_) << "AsyncRpcLoop started twice";
  started_ = true;
  for (size_t i = 0; i < cqs_.size(); ++i) {
    grpc::ServerCompletionQueue* cq = cqs_[i].get();
    {
      absl::MutexLock lock(&gate_.mu);
      for (const Method& m : methods_) m.post(cq);
    }
    threads_.push_back(
        StartNamedThread(absl::StrCat(name_, "-", i), [this, cq] { Run(cq); }));
  }
}

void AsyncRpcLoop::Run(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Proceed(ok);
}

void AsyncRpcLoop::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Next() returns false once a queue is shut down and drained: the threads then exit. Calls
  // still posted come back with ok=false and delete themselves on the way.
  {
    absl::MutexLock lock(&gate_.mu);
    gate_.closed = true;
    for (auto& cq : cqs_) cq->Shutdown();
  }
  if (!started_) {
    void* tag = nullptr;
    bool ok = false;
    for (auto& cq : cqs_) {
      while (cq->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Proceed(ok);
    }
  }
  for (auto& t : threads_) t.join();
}

}  // namespace semisync
