#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vigil::app {

//! Options of `vigil replay`.
struct ReplayOptions {
  std::string config_path;  //!< The pipeline whose operators compute the features.
  std::string events;  //!< Events file (JSONL), in offset order; empty = read the pipeline's Kafka topic.
  std::string labels;  //!< Labels file (JSONL); with --events, required when the pipeline has labels.
  std::string start = "earliest";  //!< Kafka: first offset of each partition (see ParseOffsetBound).
  std::string end = "latest";      //!< Kafka: end offset (exclusive) of each partition.
  std::string out;                 //!< Training table (CSV): the output fields, then LABEL.
  std::string state_dir;           //!< Where the replay keeps its state; default a temporary directory.
  std::string bootstrap;           //!< Kafka bootstrap servers; empty = the pipeline's kafka.bootstrap.
  //! Leave the score operators out, and write every column (the features of a first model, when the
  //! registry has no champion yet) instead of the output fields, which may name the score's columns.
  bool no_score = false;
  bool selected = false;
};

//! Runs the pipeline's own operators over recorded events and writes the training table: for each
//! event its output fields as they were at that event's time, plus its final label.
int ReplayCommand(const ReplayOptions& options);
void AddReplayCommand(CLI::App& app, ReplayOptions& options);

}  // namespace vigil::app
