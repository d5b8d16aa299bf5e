#pragma once
// PeriodicThread: a thread that calls a function every `every` of wall time until stopped. The model
// watchers and the monitors' exports each run on one.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vigil::lifecycle {

//! Lifecycle: the constructor starts the thread (the first call comes `every` after it); Stop or the
//! destructor ends it, after the call in progress. Thread-safety: Stop may be called from any thread
//! but the periodic one.
class PeriodicThread {
 public:
  PeriodicThread(std::chrono::milliseconds every, std::function<void()> tick);
  ~PeriodicThread();
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  //! Ends the thread (idempotent).
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // started last, once the fields it reads are set
};

}  // namespace vigil::lifecycle
