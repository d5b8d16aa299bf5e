#pragma once
// A partition reader fed by the test: it serves the lines pushed so far, once each, as offsets
// 0, 1, ..., for engine tests that drive a Task's RunOnce directly (events or labels).

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine/io.h"

namespace vigil::testing {

//! Serves the lines pushed so far, once, as offsets 0, 1, ...; Lag() is the lines not served yet,
//! or `stalled_lag` when set: a partition whose end lies beyond what its client can read now.
class QueueReader final : public engine::PartitionReader {
 public:
  void Push(std::string line) { lines_.push_back(std::move(line)); }
  base::Status Read(std::size_t max_events, int wait_ms, std::vector<engine::RawEvent>* out) override {
    out->clear();
    for (; next_ < lines_.size() && out->size() < max_events; ++next_)
      out->push_back(engine::RawEvent{lines_[next_].data(), static_cast<uint32_t>(lines_[next_].size()),
                                      nullptr, 0, static_cast<int64_t>(next_)});
    if (out->empty() && wait_ms > 0) {
      waited_ms_ += wait_ms;
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    return base::Status::OK();
  }
  int64_t Lag() const override {
    return stalled_lag_ > 0 ? stalled_lag_ : static_cast<int64_t>(lines_.size() - next_);
  }
  void set_stalled_lag(int64_t lag) { stalled_lag_ = lag; }
  //! Sum of the waits asked for by reads that found nothing, in ms.
  int64_t waited_ms() const { return waited_ms_; }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
  int64_t stalled_lag_ = 0;
  int64_t waited_ms_ = 0;
};

}  // namespace vigil::testing
