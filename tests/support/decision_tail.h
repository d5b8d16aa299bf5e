#pragma once
// A live reader of an output topic for the soak test: every record a read_committed reader sees, with
// the wall-clock time at which it arrived, so gaps in the output and the time from a fault to the next
// decision can be measured. The records' own timestamps are event times (the sink copies them), not
// arrival times.
//
// Lifecycle: Make assigns every partition of the topic from its beginning (no group, nothing
// committed) and starts a thread that polls until the destructor. The client retries through a broker
// restart. Thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::testing {

//! One record as the tail saw it.
struct Arrival {
  int64_t id = -1;         //!< Its TRANSACTION_ID, or -1 when it has none.
  int64_t arrived_ms = 0;  //!< Wall clock (ms since the epoch) when the reader received it.
};

class DecisionTail {
 public:
  //! Reads `partitions` partitions of `topic` on Bootstrap(), read_committed. Fails the test when the
  //! client cannot be created.
  static std::unique_ptr<DecisionTail> Make(const std::string& topic, int partitions);
  //! Stops the thread and closes the client.
  ~DecisionTail();
  DecisionTail(const DecisionTail&) = delete;
  DecisionTail& operator=(const DecisionTail&) = delete;

  //! The records received so far, in arrival order.
  std::vector<Arrival> Arrivals();
  //! How many records were received so far.
  size_t Count();

 private:
  struct Client;
  explicit DecisionTail(std::unique_ptr<Client> client);
  void Run();

  std::unique_ptr<Client> client_;
  std::mutex mu_;
  std::vector<Arrival> arrivals_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vigil::testing
