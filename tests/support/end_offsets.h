#pragma once
// The two ends of a partition as readers see them: the high watermark (read_uncommitted) and the last
// stable offset (read_committed: the first record of the oldest transaction still open). A partition
// whose last stable offset is below its high watermark holds records of an open transaction; tests
// use it to kill a transactional writer while a transaction of its is in flight.
//
// Lifecycle: Make opens two consumer clients (no group is joined, nothing is committed); the
// destructor closes them. Each query is one ListOffsets round trip (about a millisecond on loopback).
// Not thread-safe; report through Catch2, so call from a TEST_CASE, on its thread.

#include <cstdint>
#include <memory>
#include <string>

namespace vigil::testing {

//! The end offsets of one topic's partitions. Not copyable.
class EndOffsets {
 public:
  //! Clients for `topic` on Bootstrap(). Fails the test when one cannot be created.
  static std::unique_ptr<EndOffsets> Make(const std::string& topic);
  ~EndOffsets();
  EndOffsets(const EndOffsets&) = delete;
  EndOffsets& operator=(const EndOffsets&) = delete;

  //! The high watermark of `partition`: the offset the next record will get. -1 when the broker did
  //! not answer within 5 s.
  int64_t HighWatermark(int32_t partition) const;
  //! The low watermark of `partition`: its first record not deleted. -1 when the broker did not
  //! answer within 5 s.
  int64_t LowWatermark(int32_t partition) const;
  //! The last stable offset of `partition`: where a read_committed reader stops. -1 when the broker
  //! did not answer within 5 s.
  int64_t LastStable(int32_t partition) const;
  //! True when `partition` holds records of a transaction neither committed nor aborted yet: the
  //! high watermark, read first, lies beyond the last stable offset read after it. Never fails the
  //! test; false when the broker did not answer.
  bool OpenTransaction(int32_t partition) const;

 private:
  struct Clients;
  EndOffsets(std::string topic, std::unique_ptr<Clients> clients);

  std::string topic_;
  std::unique_ptr<Clients> clients_;  //!< A read_uncommitted and a read_committed consumer.
};

}  // namespace vigil::testing
