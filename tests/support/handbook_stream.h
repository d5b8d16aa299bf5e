#pragma once
// A live Handbook stream for the reliability tests (crash and restart, broker restart): simulated
// transactions and labels in files and in fresh single-partition topics, the transactions produced
// in paced chunks while `vigil run` instances come and go, and the verdict that every transaction
// was decided exactly once with the features `vigil replay` computes from the same files.
//
// One partition for every topic: the terminal-keyed windows are exact only when one task sees every
// terminal's events in order, so that live and replayed features compare bit for bit.
//
// Lifecycle: Make → StartProducer → StartVigil / Committed ... → WaitProducer → Verify. Every call
// reports through Catch2 and may only be called from a TEST_CASE, on its thread. Not copyable.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/chunk_producer.h"
#include "tests/support/process.h"
#include "tests/support/replay_table.h"

namespace vigil::testing {

//! The integer after `"FIELD":` in a flat JSON line, or -1.
int64_t JsonInt(const std::string& line, const std::string& field);
//! Splits the transaction JSON `lines`, in order, into `chunks` files DIR/chunks/chunk-NNNNN.tsv of
//! "CUSTOMER_ID<TAB>json" lines (the key `vigil simulate --kafka` gives them), for ChunkProducer.
void WriteChunkFiles(const std::string& dir, const std::vector<std::string>& lines, int chunks);
//! The labels at `labels_path` (JSONL) as "TERMINAL_ID<TAB>json" lines at `out_path`: each label keyed
//! by its transaction's terminal (from the transactions at `tx_path`), for a pipeline that reads them
//! after its repartition by terminal (labels.source.key: TERMINAL_ID); returns the number of labels.
size_t WriteLabelsByTerminal(const std::string& tx_path, const std::string& labels_path,
                             const std::string& out_path);

//! Options of HandbookStream::Make; each states its default.
struct HandbookStreamOptions {
  int customers = 2000;  //!< `vigil simulate --customers`. Default 2000.
  int terminals = 4000;  //!< `--terminals`. Default 4000.
  int days = 20;         //!< `--days`. Default 20 (about 80,000 transactions with the defaults).
  uint64_t seed = 1;     //!< `--seed`. Default 1.
  int chunks = 80;       //!< The transactions are produced in this many chunks. Default 80.
  //! Pause after each chunk. Default 400 ms: with the defaults, the stream lasts about 40 s.
  std::chrono::milliseconds chunk_pause{400};
  //! `runtime.guarantee`. Default "exactly_once".
  std::string guarantee = "exactly_once";
  //! `runtime.commit_interval`. Default "200ms".
  std::string commit_interval = "200ms";
  //! `vigil run --instance-id`, the same for every incarnation. Default "crash-test".
  std::string instance_id = "crash-test";
  //! More of the consumer's settings, as YAML pairs (e.g. "session.timeout.ms: '6000'"). Default none.
  std::string consumer_settings;
};

//! What Verify found; counts of records and values only.
struct StreamVerdict {
  size_t transactions = 0;                 //!< Transactions simulated (= replay table rows).
  ReplayComparison decisions;              //!< The decisions topic against the replay.
  FinalStateComparison last_per_customer;  //!< Each customer's last decision against the replay.
  FinalStateComparison last_per_terminal;  //!< Each terminal's last decision against the replay.
  size_t dead_letters = 0;                 //!< Records on the dead-letter topic (read_committed).

  //! Prints every example line of the comparisons to stdout, each after `prefix`.
  void PrintExamples(const char* prefix) const;
};

//! The stream, its topics and pipeline. Owns the background producer.
class HandbookStream {
 public:
  //! Simulates to DIR/tx.jsonl and DIR/labels.jsonl, creates the topics (one partition each, names
  //! unique), produces every label (labels are published before the transactions they may concern,
  //! as `vigil replay` assumes), splits the transactions into chunk files, and writes
  //! DIR/pipeline.yaml: deploy/examples/handbook.yaml (features only, no model) with these topics, a
  //! consumer group of its own and `runtime: {workers: 2, commit_interval, state_dir: DIR/state,
  //! guarantee}`.
  static std::unique_ptr<HandbookStream> Make(const std::string& dir, const HandbookStreamOptions& options);
  ~HandbookStream();
  HandbookStream(const HandbookStream&) = delete;
  HandbookStream& operator=(const HandbookStream&) = delete;

  //! Starts producing the transaction chunks, in order, to partition 0 (ChunkProducer: one
  //! idempotent client, one chunk then one pause at a time), in the background.
  void StartProducer();
  //! Waits for the producer; fails the test unless it delivered every chunk within `timeout`.
  void WaitProducer(std::chrono::milliseconds timeout);
  //! Returns once the producer waits between two chunks (or has ended); it sends nothing until
  //! ResumeProducer.
  void PauseProducer();
  void ResumeProducer();
  //! True while the producer runs.
  bool ProducerRunning();

  //! Starts `vigil run DIR/pipeline.yaml --instance-id ID`; its log is DIR/run-NN.log (NN counts the
  //! incarnations from 1).
  std::unique_ptr<Child> StartVigil();
  //! Waits until the latest incarnation `vigil` has been assigned its partition (its log says so);
  //! false if it exited first or `timeout` passed. Until then it may not yet handle SIGTERM.
  bool WaitAssigned(Child& vigil, std::chrono::milliseconds timeout) const;
  //! True once the latest incarnation's log reports its partition assigned.
  bool Assigned() const;
  //! The log of the latest incarnation, or its last `max_chars` characters.
  std::string LastLog(size_t max_chars = 4000) const;
  //! Incarnations started so far.
  int incarnations() const { return incarnations_; }

  //! The group's committed offset on the transactions partition (see CommittedOffset); -1 if none.
  int64_t Committed() const;
  //! Polls Committed() until it reaches transactions(); false after `timeout`.
  bool WaitAllCommitted(std::chrono::milliseconds timeout) const;

  //! Reads the decisions and dead-letter topics read_committed to their end, replays the files with
  //! the same pipeline, and compares (see StreamVerdict). Prints a summary with UNSCOPED_INFO.
  StreamVerdict Verify() const;

  size_t transactions() const { return transactions_; }
  const std::string& dir() const { return dir_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& group() const { return group_; }
  const std::string& transactions_topic() const { return tx_topic_; }
  const std::string& decisions_topic() const { return decisions_topic_; }
  //! The changelog topic vigil creates for the state stores: "<group>.<transactions topic>.changelog".
  std::string changelog_topic() const { return group_ + "." + tx_topic_ + ".changelog"; }

 private:
  HandbookStream(std::string dir, HandbookStreamOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}

  std::string dir_;
  HandbookStreamOptions options_;
  std::string state_dir_, pipeline_, group_;
  std::string tx_topic_, labels_topic_, decisions_topic_, dead_letter_topic_;
  size_t transactions_ = 0;
  std::unique_ptr<ChunkProducer> producer_;
  int incarnations_ = 0;
};

}  // namespace vigil::testing
