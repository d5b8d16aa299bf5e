#pragma once
// A background producer of a live stream for integration tests: the "key<TAB>value" lines of chunk
// files, in order, to partition 0 of a topic (or "PARTITION<TAB>key<TAB>value" lines, each to its
// partition), one chunk then one pause at a time, or one chunk per period at a fixed rate. One idempotent
// librdkafka producer for the whole stream, in a thread of its own, so a broker restart delays it
// and loses or duplicates nothing (a command-line producer per chunk gives up, or reports failure,
// when the broker is down while it connects).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::testing {

//! How ChunkProducer paces and places its records; each field states its default.
struct ChunkPacing {
  //! false (default): `pause` is waited after each chunk's delivery. true: chunk i is sent `pause` * i
  //! after the first one started, a fixed rate; a chunk that is late (the producer was paused or the
  //! broker was down) is sent at once, and the next ones catch up.
  bool fixed_rate = false;
  //! false (default): lines are "key<TAB>value", to partition 0. true: "PARTITION<TAB>key<TAB>value".
  bool partition_column = false;
};

class ChunkProducer {
 public:
  //! Starts producing `files` (in the given order) to `topic`, paced by `pause` as `pacing` says.
  //! Client errors are appended to `log_path`.
  ChunkProducer(std::string topic, std::vector<std::string> files, std::chrono::milliseconds pause,
                std::string log_path, ChunkPacing pacing = {});
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
  //! The wall-clock time (ms since the epoch) at which each chunk so far was delivered, by chunk.
  std::vector<int64_t> DeliveredMs();

 private:
  void Run();
  std::string ProduceAll();

  const std::string topic_;
  const std::vector<std::string> files_;
  const std::chrono::milliseconds pause_;
  const std::string log_path_;
  const ChunkPacing pacing_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pause_requested_ = false, paused_ = false, stop_ = false, done_ = false;
  std::string error_;
  std::vector<int64_t> delivered_ms_;
  std::thread thread_;
};

}  // namespace vigil::testing
