#pragma once
// A background producer of a live stream for integration tests: the "key<TAB>value" lines of chunk
// files, in order, to partition 0 of a topic, one chunk then one pause at a time. One idempotent
// librdkafka producer for the whole stream, in a thread of its own, so a broker restart delays it
// and loses or duplicates nothing (a command-line producer per chunk gives up, or reports failure,
// when the broker is down while it connects).

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::testing {

class ChunkProducer {
 public:
  //! Starts producing `files` (in the given order) to partition 0 of `topic`, waiting `pause`
  //! after each. Client errors are appended to `log_path`.
  ChunkProducer(std::string topic, std::vector<std::string> files, std::chrono::milliseconds pause,
                std::string log_path);
  //! Stops the thread (what is not delivered yet is dropped).
  ~ChunkProducer();
  ChunkProducer(const ChunkProducer&) = delete;
  ChunkProducer& operator=(const ChunkProducer&) = delete;

  //! Returns once the producer waits between two chunks (or has ended); it sends nothing more until
  //! Resume.
  void Pause();
  void Resume();
  //! True until every chunk was delivered or the producer failed.
  bool Running();
  //! Waits up to `timeout` for the end: "" when every record was delivered, else what went wrong.
  std::string Wait(std::chrono::milliseconds timeout);

 private:
  void Run();
  std::string ProduceAll();

  const std::string topic_;
  const std::vector<std::string> files_;
  const std::chrono::milliseconds pause_;
  const std::string log_path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pause_requested_ = false, paused_ = false, stop_ = false, done_ = false;
  std::string error_;
  std::thread thread_;
};

}  // namespace vigil::testing
