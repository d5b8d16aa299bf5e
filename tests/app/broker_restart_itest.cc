// Broker restart: the Kafka broker is restarted twice while `vigil run` processes a live stream,
// once with a controlled shutdown (SIGTERM) and once as a crash (SIGKILL), each time on the same data.
// The same vigil process rides through both; nothing is lost or duplicated: a read_committed reader
// sees one decision per transaction with the features `vigil replay` computes, and no dead letter.
// The test's own producer of the input (one idempotent client, tests/support/chunk_producer.h) pauses
// between two chunks for each restart, so the restart lands while vigil, not the producer, is busy;
// vigil keeps running throughout.
//
// The test runs its own broker (tests/support/private_broker.h) on a free port: restarting the shared
// one would break whatever else uses it at the time, and `scripts/kafka restart` empties the storage.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/handbook_stream.h"
#include "tests/support/kafka_env.h"
#include "tests/support/private_broker.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

using Clock = std::chrono::steady_clock;

//! The vigil process, restarted (same instance id) should it exit, as a supervisor would: the test
//! still fails then, but goes on to check what reached Kafka.
struct Supervised {
  HandbookStream& stream;
  std::unique_ptr<Child> vigil = stream.StartVigil();
  std::vector<std::string> exits = {};  //!< One line per exit: code and the end of its log.

  void KeepRunning() {
    const int rc = vigil->Wait(std::chrono::milliseconds(0));
    if (rc == -1) return;
    std::string errors;  // vigil's own error lines, without librdkafka's connection noise
    std::istringstream log(stream.LastLog(std::string::npos));
    for (std::string line; std::getline(log, line);)
      if (line.find(" error ") != std::string::npos || line.rfind("error:", 0) == 0) errors += line + "\n";
    exits.push_back("incarnation " + std::to_string(stream.incarnations()) + " exited with " +
                    std::to_string(rc) + ":\n" + errors);
    std::printf("broker-restart: vigil exited with %d; restarting it. Its errors:\n%s", rc, errors.c_str());
    std::fflush(stdout);
    vigil = stream.StartVigil();
  }

  //! Polls the group's committed offset until it exceeds `than`; returns it, or -1 after `timeout`.
  int64_t WaitCommittedBeyond(int64_t than, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      KeepRunning();
      const int64_t committed = stream.Committed();
      if (committed > than) return committed;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return -1;
  }
};

TEST_CASE("broker restarted twice mid-run: nothing lost or duplicated and features exact", "[integration]") {
  const auto started = Clock::now();
  auto broker = PrivateBroker::Start();
  HandbookStreamOptions options;
  options.customers = 1500;
  options.terminals = 3000;
  options.days = 20;
  options.seed = 3;
  options.chunks = 40;
  options.chunk_pause = std::chrono::milliseconds(500);
  options.instance_id = "broker-restart";
  const std::string dir = TempDir("vigil-broker-restart");
  auto stream = HandbookStream::Make(dir, options);
  const auto n = static_cast<int64_t>(stream->transactions());
  stream->StartProducer();
  Supervised run{*stream};

  int64_t committed = 0;
  for (const int signal : {SIGTERM, SIGKILL}) {
    // Restart only once vigil has committed more than before: the restart hits a running pipeline.
    committed = run.WaitCommittedBeyond(committed, std::chrono::seconds(120));
    {
      INFO("vigil's log:\n" << stream->LastLog());
      REQUIRE(committed > 0);
    }
    CHECK(committed < n);     // mid-run
    stream->PauseProducer();  // the restart hits vigil between two chunks of input
    const auto down = Clock::now();
    broker->Restart(signal);
    stream->ResumeProducer();
    std::printf(
        "broker-restart: broker restarted (%s) at committed offset %lld of %lld; it answered again after "
        "%.1f s\n",
        signal == SIGTERM ? "SIGTERM" : "SIGKILL", static_cast<long long>(committed),
        static_cast<long long>(n), std::chrono::duration<double>(Clock::now() - down).count());
    std::fflush(stdout);
  }
  stream->WaitProducer(std::chrono::seconds(300));
  const bool done = run.WaitCommittedBeyond(n - 1, std::chrono::seconds(300)) == n;
  {
    INFO("vigil's log:\n" << stream->LastLog());
    INFO("broker's log:\n" << broker->Log());
    INFO("committed offset " << stream->Committed() << " of " << n);
    REQUIRE(done);
    REQUIRE(stream->WaitAssigned(*run.vigil, std::chrono::seconds(120)));
    run.vigil->Signal(SIGTERM);
    REQUIRE(run.vigil->Wait(std::chrono::seconds(60)) == 0);
  }
  {
    // The same process rode through both restarts: no exit, no restart of its own.
    INFO((run.exits.empty() ? std::string() : run.exits.front()));
    CHECK(run.exits.empty());
  }

  const StreamVerdict v = stream->Verify();
  std::printf(
      "broker-restart: transactions=%zu decisions=%zu duplicates=%zu missing=%zu unknown=%zu "
      "feature_mismatches=%zu "
      "mismatched_decisions=%zu last_per_customer_mismatches=%zu dead_letters=%zu vigil_exits=%zu "
      "wall_s=%.1f\n",
      v.transactions, v.decisions.records, v.decisions.duplicates, v.decisions.missing, v.decisions.unknown,
      v.decisions.mismatches, v.decisions.mismatched_records, v.last_per_customer.different, v.dead_letters,
      run.exits.size(), std::chrono::duration<double>(Clock::now() - started).count());
  v.PrintExamples("broker-restart: example: ");
  CHECK(v.transactions == stream->transactions());
  CHECK(v.decisions.duplicates == 0);
  CHECK(v.decisions.missing == 0);
  CHECK(v.decisions.unknown == 0);
  CHECK(v.decisions.records == stream->transactions());
  CHECK(v.decisions.mismatches == 0);
  CHECK(v.last_per_customer.different == 0);
  CHECK(v.last_per_terminal.different == 0);
  CHECK(v.dead_letters == 0);
  if (std::getenv("VIGIL_CRASH_KEEP") == nullptr) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::testing
