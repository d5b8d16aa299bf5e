#pragma once
// Helpers for integration tests that talk to the real Kafka broker started by `scripts/kafka start`.
//
// Every helper blocks until its work is done and reports failure through Catch2 (FAIL / REQUIRE), so
// it may only be called from inside a TEST_CASE. Each call opens and closes its own librdkafka client:
// simple and slow-ish (tens of ms), which is fine for tests. Thread-safety: the functions share no
// state except an atomic counter, but Catch2 assertions are not thread-safe, so call them from the
// test's thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::testing {

//! One Kafka record as produced by Produce() and returned by ConsumeAll().
struct Message {
  std::optional<std::string> key;  //!< nullopt = null key.
  std::string value;               //!< A null value (tombstone) reads back as "".
  int32_t partition = -1;          //!< Produce: -1 lets the partitioner choose (murmur2 of the key).
  int64_t offset = -1;             //!< Set by ConsumeAll(); ignored by Produce().
  int64_t timestamp_ms = 0;        //!< Produce: 0 = now. ConsumeAll: the record's timestamp.
  std::vector<std::pair<std::string, std::string>> headers = {};  //!< In order; names may repeat.
};

//! The broker to use: env VIGIL_TEST_BOOTSTRAP, default "127.0.0.1:19092" (scripts/kafka's default).
std::string Bootstrap();

//! A topic name no other test or run has used: "<prefix>-<pid>-<counter>-<random>".
std::string UniqueTopic(std::string_view prefix);

//! Creates `name` with `partitions` partitions (replication factor 1) and topic `configs`
//! (e.g. {{"cleanup.policy", "compact"}}) through the Admin API, then waits until every partition has
//! a leader. Fails the test if the broker is not reachable or the creation fails.
void CreateTopic(const std::string& name, int partitions,
                 const std::map<std::string, std::string>& configs = {});

//! Produces `messages` to `topic` (acks=all) and flushes; fails the test unless every one is
//! delivered (a record gives up after 5 minutes: a loaded broker is slow, not gone).
void Produce(const std::string& topic, const std::vector<Message>& messages);

//! Reads `topic` from the beginning of every partition, with assign() (no consumer group, nothing
//! committed), and returns the records sorted by (partition, offset). Stops when
//! `expected_count` > 0 records were read, when `timeout` passed, or, for `expected_count` == 0,
//! when every partition is at its end (the last stable offset under read_committed). Does not fail
//! the test on a short read: compare the returned size.
std::vector<Message> ConsumeAll(const std::string& topic, size_t expected_count,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                bool read_committed = true);

//! Number of partitions of `topic` that have a leader; -1 when the topic does not exist. Fails the
//! test when the broker does not answer.
int TopicPartitions(const std::string& topic);

//! The offset consumer group `group` has committed on `topic`/`partition`, as a read_committed
//! consumer of the group would resume from it (committed transactions only). -1 when the group has
//! committed none there or the broker did not answer within `timeout` (e.g. while it restarts):
//! poll it. Never joins the group and never fails the test.
int64_t CommittedOffset(const std::string& group, const std::string& topic, int32_t partition,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

//! The members consumer group `group` has now, as its coordinator describes it; -1 when the broker did
//! not answer within `timeout` or the group is unknown. Never fails the test: poll it.
int GroupMembers(const std::string& group, std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace vigil::testing
