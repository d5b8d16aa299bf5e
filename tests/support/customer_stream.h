#pragma once
// A simulated stream for the multi-instance tests of scoring and the model lifecycle: a pipeline keyed
// by customer only (a per-customer window, no repartition), so its labels are keyed by customer too
// and every instance's task reads the labels of its own customers; the transactions and labels as
// Kafka messages, keyed by customer and timestamped with event or label time; and a model registry.
//
// Every function reports through Catch2; call it from a TEST_CASE, on its thread.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/kafka_env.h"

namespace vigil::testing {

//! One simulated transaction.
struct StreamTransaction {
  int64_t id = 0, customer = 0, time_ms = 0;
  int fraud = 0;
};

//! What MakeCustomerStream made.
struct CustomerStream {
  std::string dir;                         //!< Holds tx.jsonl, labels.jsonl, pipeline.yaml, models/.
  std::string tx, labels, decisions, dlq;  //!< Topics (created with the stream's partitions).
  std::string group;                       //!< The pipeline's consumer group.
  std::map<int64_t, StreamTransaction> transactions;  //!< By id.
  std::vector<Message> tx_messages;                   //!< In file order, timestamp = event time.
  std::vector<Message> label_messages;                //!< In file order, timestamp = label time.
};

//! Options of MakeCustomerStream; each states its default.
struct CustomerStreamOptions {
  std::string name = "outcomes";  //!< The pipeline's name (its stage name in the logs).
  int partitions = 2;             //!< Of every topic. Default 2.
  //! `vigil simulate` options. Default 1000 customers, 2000 terminals, 21 days, seed 5, label delay 7.
  std::string simulate = "--customers 1000 --terminals 2000 --days 21 --seed 5 --label-delay-days 7";
  int label_delay_days = 7;  //!< The score monitor's label_delay_days. Default 7.
  std::string score_extra;   //!< More lines of the score operator (4-space indented). Default none.
};

//! Simulates into `dir`, creates the topics, writes DIR/pipeline.yaml (exactly-once, commits every
//! 500 ms, session timeout 6 s) with a score operator over DIR/models.
CustomerStream MakeCustomerStream(const std::string& dir, const CustomerStreamOptions& options);

//! `vigil replay` of the stream's files (no score) into DIR/table.csv, then `vigil train` of a
//! version on `train_args` (e.g. "--rounds 20 --train-start 2018-04-01 --train-days 7 --valid-days 1"),
//! registered in DIR/models.
void TrainVersion(const CustomerStream& s, const std::string& train_args);

}  // namespace vigil::testing
