#pragma once
// The input of the soak test (tests/app/soak_itest.cc) as chunk files of one second each, for two
// fixed-rate ChunkProducers (tests/support/chunk_producer.h): the simulated transactions over several
// partitions (keyed by customer, placed by librdkafka's consistent partitioner as `vigil run` expects),
// a share of them with clocks years ahead, a window in which one partition receives only garbage, and
// the labels keyed by terminal, each sent a few event-time days before it is due.
//
// Also written: DIR/tx.jsonl and DIR/labels.jsonl, the transactions that are not future-dated and
// their labels: what `vigil replay` computes the reference features from.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace vigil::testing {

//! What BuildSoakStream makes; each field states its default.
struct SoakStreamOptions {
  int partitions = 6;    //!< Partitions of the transactions and labels topics. Default 6.
  int per_second = 300;  //!< Transactions per chunk (one chunk a second). Default 300.
  double future_percent =
      1.0;            //!< Share of transactions dated 5 years after now (a bad clock), in percent. Default 1.
  uint64_t seed = 1;  //!< Chooses the future-dated transactions. Default 1.
  int garbage_partition = 5;  //!< The partition that receives garbage. Default 5.
  size_t garbage_first = 0;   //!< First chunk of the garbage window. Default 0.
  size_t garbage_chunks = 0;  //!< Chunks in the garbage window; 0 = none. Default 0.
  //! Labels are sent with the first chunk whose latest transaction is at most this long before the
  //! label's LABEL_TIME_MS. Default 3 days (the simulator's labels come 7 days after their transaction).
  int64_t label_lead_ms = 3LL * 24 * 3600 * 1000;
};

//! What BuildSoakStream wrote.
struct SoakStream {
  std::vector<std::string> tx_chunks;     //!< "PARTITION<TAB>CUSTOMER_ID<TAB>json" files, one a second.
  std::vector<std::string> label_chunks;  //!< "PARTITION<TAB>TERMINAL_ID<TAB>json" files, as many.
  size_t transactions = 0;                //!< Transactions streamed, future-dated ones included.
  size_t records = 0;                     //!< Records of the transactions topic: transactions + garbage.
  size_t garbage = 0;                     //!< Garbage (non-JSON) records.
  std::set<int64_t> future_ids;           //!< TRANSACTION_IDs of the future-dated transactions.
  std::vector<size_t> chunk_of;  //!< The chunk each TRANSACTION_ID is sent in (by id; ids are dense).
};

//! Reads the first `count` transactions of `sim_tx` (JSONL, in time order) and their labels from
//! `sim_labels`, and writes the chunk files under DIR/tx-chunks and DIR/label-chunks, DIR/tx.jsonl
//! and DIR/labels.jsonl. Fails the test when a file cannot be read.
SoakStream BuildSoakStream(const std::string& dir, const std::string& sim_tx, const std::string& sim_labels,
                           size_t count, const SoakStreamOptions& options);

//! The partition of `key` under murmur2_random, the partitioner vigil produces with by default.
int32_t KeyPartition(const std::string& key, int partitions);

}  // namespace vigil::testing
