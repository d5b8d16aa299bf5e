#include "lifecycle/periodic.h"

namespace vigil::lifecycle {

PeriodicThread::PeriodicThread(std::chrono::milliseconds every, std::function<void()> tick)
    : thread_([this, every, tick = std::move(tick)] {
        std::unique_lock lock(mu_);
        while (!cv_.wait_for(lock, every, [this] { return stopping_; })) {
          lock.unlock();
          tick();
          lock.lock();
        }
      }) {}

PeriodicThread::~PeriodicThread() { Stop(); }

void PeriodicThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vigil::lifecycle
