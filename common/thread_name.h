// Names the calling thread (what `top -H`, `perf report --sort comm` and /proc/PID/task/*/comm
// show), so that profiles and thread dumps say which pipeline stage a thread is.
#ifndef SEMISYNC_COMMON_THREAD_NAME_H_
#define SEMISYNC_COMMON_THREAD_NAME_H_

#include <string>
#include <thread>
#include <utility>

namespace semisync {

// Linux keeps at most 15 characters; longer names are cut. Failure is ignored (a name is a
// debugging aid, never a reason to stop).
void SetCurrentThreadName(const char* name);

// A thread that names itself `name`, then runs body().
template <class F>
std::thread StartNamedThread(std::string name, F body) {
  return std::thread([name = std::move(name), body = std::move(body)]() mutable {
    SetCurrentThreadName(name.c_str());
    body();
  });
}

}  // namespace semisync

#endif  // SEMISYNC_COMMON_THREAD_NAME_H_
