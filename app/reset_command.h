#pragma once
// `vigil reset CONFIG`: forgets everything a pipeline has done, as Kafka Streams' application reset
// tool does, so that its next run starts from the beginning of its input topics.

#include <CLI/CLI.hpp>
#include <string>

namespace vigil::app {

struct ResetOptions {
  std::string config_path;  //!< The pipeline file.
  std::string bootstrap;    //!< Overrides kafka.bootstrap when not empty.
  std::string state_dir;    //!< Overrides runtime.state_dir when not empty.
  bool yes = false;         //!< Do not ask for confirmation. Default: ask.
  bool selected = false;    //!< Set when the subcommand was given.
};

//! Deletes, for every stage of the pipeline (engine/stages.h): its consumer group with its committed
//! offsets, its internal topics (the changelog, the repartition topic it reads) and its local state
//! under runtime.state_dir. Lists them and asks for "yes" on standard input unless `yes`. The input,
//! labels, output and dead-letter topics are left alone. Returns 0 when done, 1 when declined or a
//! deletion failed (e.g. an instance of the group still runs), 2 for a bad config.
int ResetCommand(const ResetOptions& options);
void AddResetCommand(CLI::App& app, ResetOptions& options);

}  // namespace vigil::app
