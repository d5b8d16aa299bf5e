#pragma once
// `vigil run` instances of one consumer group for the multi-instance tests (rebalance, soak): each
// with its own instance id, state directory and log, killed and restarted as a supervisor would; the
// partitions each owns according to its log; the group's progress on the input topic.
//
// Every function reports through Catch2 where it says so; call it from a TEST_CASE, on its thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace vigil::testing {

//! One `vigil run` process of the group, with its own instance id, state directory and log.
struct Instance {
  std::string id, state_dir, log;
  std::unique_ptr<Child> child;
};

//! Starts `vigil run DIR/pipeline.yaml --instance-id PREFIX-K --state-dir DIR/state-K`, its output
//! appended to DIR/run-K.log.
Instance StartInstance(const std::string& dir, const std::string& prefix, int k);
//! Starts `in` again with the same instance id, state directory and log (after a kill), as a
//! supervisor restarts a crashed process.
void RestartInstance(const std::string& dir, Instance& in);

//! Partitions by stage name (e.g. "rebalance.by_CUSTOMER_ID" reads the input, "rebalance" the
//! repartition topic by TERMINAL_ID).
using Ownership = std::map<std::string, std::set<int>>;

//! The partitions an instance owns according to its log, `text` read in order: "STAGE: partition P
//! assigned" adds P to STAGE's, "STAGE: partition P revoked" removes it.
Ownership Owned(const std::string& text);

//! True when every instance of `instances` owns `partitions` / `instances.size()` partitions of each
//! of `stages` according to its log, and together they own all `partitions` of each.
bool Settled(const std::vector<Instance>& instances, const std::vector<std::string>& stages, int partitions);

//! The instances' logs (the last `max_chars` characters of each), for failure messages.
std::string Logs(const std::vector<Instance>& instances, size_t max_chars = 3000);

//! The group's committed offsets on `topic` summed over its `partitions`: the records it has consumed
//! (offsets of a fresh topic count from 0; an unknown offset counts as 0). Never fails the test.
int64_t CommittedTotal(const std::string& group, const std::string& topic, int partitions);

}  // namespace vigil::testing
