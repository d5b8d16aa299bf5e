// Crash harness: `vigil run` is killed with SIGKILL at random moments while a stream flows, and
// restarted each time with the same state directory and instance id. Exactly-once means a
// read_committed reader of the decisions topic sees one decision per transaction, with the features
// `vigil replay` computes from the same files, bit for bit; the last decision of each customer (and
// terminal) is the replay's, so the final state equals a clean run's.
//
// The first test is the CI variant of scripts/crash-harness, which runs it on a million transactions
// through the VIGIL_CRASH_* variables below.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/handbook_stream.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

using Clock = std::chrono::steady_clock;

//! env `name` as an integer, or `fallback` when unset.
int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoll(v, nullptr, 10) : fallback;
}

//! How the instances are killed.
struct KillPlan {
  int kills = 10;          //!< SIGKILLs, each followed by a restart.
  int min_delay_ms = 500;  //!< Each incarnation lives a uniform random time in [min, max] before its kill.
  int max_delay_ms = 4000;
  uint64_t seed = 1;          //!< Seeds the delays; printed.
  bool delete_state = false;  //!< Delete the local state directory after each kill.
};

//! What the kill loop did.
struct KillReport {
  int kills = 0;
  int mid_stream = 0;              //!< Kills at which the group had not yet committed every transaction.
  int after_assignment = 0;        //!< Kills of an incarnation that had been assigned its partition.
  std::vector<int64_t> committed;  //!< The group's committed offset at each kill.
};

//! Runs `plan.kills` incarnations, each killed with SIGKILL after its random delay. Prints each kill
//! with the group's committed offset at that moment.
KillReport KillRepeatedly(HandbookStream& stream, const KillPlan& plan) {
  std::mt19937_64 rng(plan.seed);
  std::uniform_int_distribution<int> delay_ms(plan.min_delay_ms, plan.max_delay_ms);
  std::printf("crash: kill delays %d..%d ms, seed %llu\n", plan.min_delay_ms, plan.max_delay_ms,
              static_cast<unsigned long long>(plan.seed));
  KillReport report;
  for (int k = 1; k <= plan.kills; ++k) {
    auto vigil = stream.StartVigil();
    const int delay = delay_ms(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    {
      // An incarnation that ended on its own (an error, not our kill) fails the test here.
      INFO("incarnation " << stream.incarnations() << " exited before its kill:\n" << stream.LastLog());
      REQUIRE(vigil->Wait(std::chrono::milliseconds(0)) == -1);
    }
    const int64_t committed = stream.Committed();
    vigil->Signal(SIGKILL);
    const bool assigned = stream.Assigned();
    REQUIRE(vigil->Wait(std::chrono::seconds(30)) == 128 + SIGKILL);
    report.kills += 1;
    report.committed.push_back(committed);
    report.after_assignment += assigned ? 1 : 0;
    report.mid_stream += committed < static_cast<int64_t>(stream.transactions()) ? 1 : 0;
    std::printf("crash: kill %d after %d ms (%s): committed offset %lld of %zu%s\n", k, delay,
                assigned ? "processing" : "starting, partition not yet assigned",
                static_cast<long long>(committed), stream.transactions(),
                plan.delete_state ? ", state directory deleted" : "");
    std::fflush(stdout);
    if (plan.delete_state) std::filesystem::remove_all(stream.state_dir());
  }
  return report;
}

//! A last incarnation runs until the group has committed every transaction, then stops on SIGTERM.
void RunToCompletion(HandbookStream& stream, std::chrono::seconds timeout) {
  auto vigil = stream.StartVigil();
  // SIGTERM only once it runs the partition (before its signal handlers exist, SIGTERM just ends it).
  const bool assigned = stream.WaitAssigned(*vigil, timeout);
  stream.WaitProducer(timeout);
  const bool done = stream.WaitAllCommitted(timeout);
  INFO("last incarnation's log:\n" << stream.LastLog());
  INFO("committed offset " << stream.Committed() << " of " << stream.transactions());
  REQUIRE(assigned);
  REQUIRE(done);
  vigil->Signal(SIGTERM);
  REQUIRE(vigil->Wait(std::chrono::seconds(60)) == 0);
}

//! The exactly-once verdict, printed as one line (scripts/crash-harness shows it) and asserted.
void CheckExactlyOnce(const HandbookStream& stream, const KillReport& kills, Clock::time_point started) {
  const StreamVerdict v = stream.Verify();
  const double wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf(
      "crash: transactions=%zu decisions=%zu distinct=%zu duplicates=%zu missing=%zu unknown=%zu "
      "values_compared=%zu feature_mismatches=%zu mismatched_decisions=%zu customers=%zu "
      "last_per_customer_mismatches=%zu terminals=%zu "
      "last_per_terminal_mismatches=%zu dead_letters=%zu kills=%d kills_mid_stream=%d "
      "kills_while_processing=%d "
      "restarts=%d wall_s=%.1f\n",
      v.transactions, v.decisions.records, v.decisions.distinct, v.decisions.duplicates, v.decisions.missing,
      v.decisions.unknown, v.decisions.compared, v.decisions.mismatches, v.decisions.mismatched_records,
      v.last_per_customer.keys, v.last_per_customer.different, v.last_per_terminal.keys,
      v.last_per_terminal.different, v.dead_letters, kills.kills, kills.mid_stream, kills.after_assignment,
      stream.incarnations() - 1, wall_s);
  v.PrintExamples("crash: example: ");
  CHECK(v.transactions == stream.transactions());
  CHECK(v.decisions.duplicates == 0);
  CHECK(v.decisions.missing == 0);
  CHECK(v.decisions.unknown == 0);
  CHECK(v.decisions.records == stream.transactions());
  CHECK(v.decisions.mismatches == 0);
  CHECK(v.dead_letters == 0);
  // The final state: each customer's and terminal's last decision is the clean run's (implied by the
  // comparison of every decision above, stated on its own).
  CHECK(v.last_per_customer.keys > 0);
  CHECK(v.last_per_customer.different == 0);
  CHECK(v.last_per_terminal.different == 0);
}

TEST_CASE("kill -9 at random points then restart: exactly one decision per transaction and exact features",
          "[integration]") {
  const auto started = Clock::now();
  HandbookStreamOptions options;
  options.customers = static_cast<int>(EnvInt("VIGIL_CRASH_CUSTOMERS", 2000));
  options.terminals = static_cast<int>(EnvInt("VIGIL_CRASH_TERMINALS", 4000));
  options.days = static_cast<int>(EnvInt("VIGIL_CRASH_DAYS", 20));
  options.seed = static_cast<uint64_t>(EnvInt("VIGIL_CRASH_SIM_SEED", 1));
  options.chunks = static_cast<int>(EnvInt("VIGIL_CRASH_CHUNKS", 80));
  options.chunk_pause = std::chrono::milliseconds(EnvInt("VIGIL_CRASH_CHUNK_PAUSE_MS", 400));
  options.instance_id = "crash";
  // at_least_once shows what the test catches: kills then repeat decisions.
  if (const char* g = std::getenv("VIGIL_CRASH_GUARANTEE"); g != nullptr && *g != '\0') options.guarantee = g;
  KillPlan plan;
  plan.kills = static_cast<int>(EnvInt("VIGIL_CRASH_KILLS", 10));
  plan.min_delay_ms = static_cast<int>(EnvInt("VIGIL_CRASH_MIN_DELAY_MS", 500));
  plan.max_delay_ms = static_cast<int>(EnvInt("VIGIL_CRASH_MAX_DELAY_MS", 4000));
  plan.seed = static_cast<uint64_t>(EnvInt("VIGIL_CRASH_SEED", std::random_device{}()));
  const auto timeout = std::chrono::seconds(EnvInt("VIGIL_CRASH_TIMEOUT_S", 300));

  const std::string dir = TempDir("vigil-crash");
  auto stream = HandbookStream::Make(dir, options);
  std::printf("crash: %zu transactions in %s, group %s\n", stream->transactions(), dir.c_str(),
              stream->group().c_str());
  stream->StartProducer();
  const KillReport kills = KillRepeatedly(*stream, plan);
  // Every kill hit a running stream, not one already done.
  CHECK(kills.mid_stream == plan.kills);
  RunToCompletion(*stream, timeout);
  CHECK(TopicPartitions(stream->changelog_topic()) == 1);
  CheckExactlyOnce(*stream, kills, started);
  if (EnvInt("VIGIL_CRASH_KEEP", 0) == 0) std::filesystem::remove_all(dir);
}

TEST_CASE(
    "crash during a long-running instance with the local state directory deleted restores from the changelog",
    "[integration]") {
  const auto started = Clock::now();
  HandbookStreamOptions options;
  options.customers = 1500;
  options.terminals = 3000;
  options.days = 20;
  options.seed = 2;
  options.chunks = 50;
  options.chunk_pause = std::chrono::milliseconds(400);
  options.instance_id = "restore";
  const std::string dir = TempDir("vigil-restore");
  auto stream = HandbookStream::Make(dir, options);
  stream->StartProducer();
  // A long first life builds state; the second is killed soon after its restore.
  KillPlan plan;
  plan.kills = 1;
  plan.min_delay_ms = 4000;
  plan.max_delay_ms = 7000;
  plan.seed = std::random_device{}();
  plan.delete_state = true;
  KillReport kills = KillRepeatedly(*stream, plan);
  // The deleted state held something the changelog must give back.
  CHECK(kills.committed.at(0) > 0);
  plan.min_delay_ms = 1000;
  plan.max_delay_ms = 3000;
  plan.seed += 1;
  const KillReport second = KillRepeatedly(*stream, plan);
  kills.kills += second.kills;
  kills.mid_stream += second.mid_stream;
  kills.after_assignment += second.after_assignment;
  CHECK(kills.mid_stream == 2);
  RunToCompletion(*stream, std::chrono::seconds(300));
  CheckExactlyOnce(*stream, kills, started);
  if (EnvInt("VIGIL_CRASH_KEEP", 0) == 0) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::testing
