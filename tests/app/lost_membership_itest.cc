// A stalled process: `vigil run` is stopped (SIGSTOP, as a frozen VM or a starved container would)
// mid-stream past its group session, so the group drops it, then continued while the stream goes on.
// Its next commit is refused, or its partitions come back as lost: it drops the work since its last
// commit (aborting the transaction that held it) and takes the partition again from there, in the
// same process. Exactly-once holds: a read_committed reader of the decisions topic sees one decision
// per transaction, with the features `vigil replay` computes from the same files. At-least-once, a
// transaction may be decided twice, each time with those features (the state was rewound too).
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "tests/support/end_offsets.h"
#include "tests/support/handbook_stream.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! Occurrences of `needle` in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

//! Stalls `vigil run` under `guarantee` (exactly_once or at_least_once) past its session and checks
//! that it goes on, in the same process, to a complete stream.
void Stall(const std::string& guarantee) {
  HandbookStreamOptions options;
  options.guarantee = guarantee;
  options.customers = 1500;
  options.terminals = 3000;
  options.days = 20;
  options.seed = 3;
  options.chunks = 60;
  options.chunk_pause = std::chrono::milliseconds(300);
  options.instance_id = "stalled";
  // A short session, so that the stall outlasts it well within the transaction's timeout (60 s).
  options.consumer_settings = "session.timeout.ms: '6000', heartbeat.interval.ms: '1000'";
  const std::string dir = TempDir("vigil-stall");
  auto stream = HandbookStream::Make(dir, options);
  // A chunk or more, then nothing until the stall: it falls mid-stream, and the stream goes on
  // meanwhile.
  stream->StartProducer();
  auto input = EndOffsets::Make(stream->transactions_topic());
  REQUIRE(WaitFor(std::chrono::seconds(180), [&] { return input->HighWatermark(0) > 0; }));
  stream->PauseProducer();
  auto vigil = stream->StartVigil();
  const auto timeout = std::chrono::seconds(180);
  REQUIRE(stream->WaitAssigned(*vigil, timeout));
  REQUIRE(WaitFor(timeout, [&] { return stream->Committed() > 0; }));
  REQUIRE(stream->ProducerRunning());

  vigil->Signal(SIGSTOP);
  stream->ResumeProducer();
  const int64_t committed_at_stop = stream->Committed();
  // The coordinator has dropped the stalled member once the group has none.
  const bool dropped = WaitFor(timeout, [&] { return GroupMembers(stream->group()) == 0; });
  vigil->Signal(SIGCONT);
  REQUIRE(dropped);
  std::printf("stall: stopped at committed offset %lld of %zu; the group dropped the member\n",
              static_cast<long long>(committed_at_stop), stream->transactions());

  // It takes its partition again and finishes the stream, in the same process.
  int exited = -1;
  const bool done = WaitFor(timeout, [&] {
    exited = vigil->Wait(std::chrono::milliseconds(0));
    return exited != -1 || stream->Committed() == static_cast<int64_t>(stream->transactions());
  });
  INFO("log:\n" << stream->LastLog(8000));
  REQUIRE(exited == -1);  // never exited
  REQUIRE(done);
  stream->WaitProducer(timeout);
  vigil->Signal(SIGTERM);
  REQUIRE(vigil->Wait(std::chrono::seconds(60)) == 0);
  REQUIRE(stream->incarnations() == 1);
  const std::string log = ReadFile(dir + "/run-01.log");

  // What it did: the uncommitted work dropped (a refused commit, or lost partitions) and the
  // partition assigned again.
  const size_t rewinds = Count(log, "dropped and read again") + Count(log, "partitions lost");
  std::printf("stall: %zu drop(s) of uncommitted work; partition assigned %zu times\n", rewinds,
              Count(log, "partition 0 assigned"));
  CHECK(rewinds >= 1);
  CHECK(Count(log, "partition 0 assigned") >= 2);

  const StreamVerdict v = stream->Verify();
  v.PrintExamples("stall: example: ");
  std::printf("stall: %s: %zu decisions, %zu distinct, %zu duplicates\n", guarantee.c_str(),
              v.decisions.records, v.decisions.distinct, v.decisions.duplicates);
  CHECK(v.transactions == stream->transactions());
  CHECK(v.decisions.missing == 0);
  CHECK(v.decisions.unknown == 0);
  CHECK(v.decisions.mismatches == 0);  // a decision made twice has the same features both times
  CHECK(v.dead_letters == 0);
  if (guarantee == "exactly_once") {
    CHECK(v.decisions.records == stream->transactions());
    CHECK(v.decisions.duplicates == 0);
  }
}

TEST_CASE("an instance stalled past its group session drops its uncommitted work and goes on, exactly once",
          "[integration]") {
  Stall("exactly_once");
}

TEST_CASE("an instance stalled past its group session goes on at least once, every decision exact",
          "[integration]") {
  Stall("at_least_once");
}

}  // namespace
}  // namespace vigil::testing
