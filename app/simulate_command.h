#pragma once

#include <CLI/CLI.hpp>

#include "sim/simulator.h"

namespace vigil::app {

//! Options of `vigil simulate`.
struct SimulateOptions {
  sim::SimOptions sim;
  std::string out;                      //!< Transactions file (.jsonl or .csv).
  std::string labels_out;               //!< Labels file (.jsonl or .csv).
  std::string bootstrap;                //!< Kafka bootstrap servers; empty = no Kafka.
  std::string topic = "transactions";   //!< Transactions topic.
  std::string labels_topic = "labels";  //!< Labels topic; empty = none.
  //! The transaction field the labels are keyed by: CUSTOMER_ID (co-partitioned with the transactions)
  //! or TERMINAL_ID (with a pipeline's per-terminal stage; labels.source.key: TERMINAL_ID).
  std::string labels_key = "CUSTOMER_ID";
  bool quiet = false;
  //! Create the topics that do not exist: with `partitions`, else the partitions of the one that
  //! exists, else 1. Default false: a missing topic is named, with the command that creates it.
  bool create_topics = false;
  int partitions = 0;     //!< Partitions of created topics; 0 = as above.
  bool selected = false;  //!< Set when the subcommand was given.
};

int SimulateCommand(const SimulateOptions& options);
void AddSimulateCommand(CLI::App& app, SimulateOptions& options);

}  // namespace vigil::app
