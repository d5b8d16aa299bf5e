#pragma once
// The `vigil` subcommands. Each returns the process exit code: 0 success, 1 runtime failure,
// 2 bad usage or configuration; `vigil run` also kExitFenced.

#include <cstdint>
#include <string>

namespace vigil::app {

//! Options of `vigil run` that override the pipeline file.
struct RunOptions {
  std::string config_path;
  std::string bootstrap;         //!< Overrides kafka.bootstrap when not empty.
  int http_port = -1;            //!< Overrides http.port when ≥ 0.
  std::string state_dir;         //!< Overrides runtime.state_dir when not empty.
  std::string instance_id;       //!< Overrides runtime.instance_id when not empty.
  int64_t idle_exit_ms = 0;      //!< Stop after this long without events (0 = run until signalled).
  bool json_summary = false;     //!< Print the end-of-run summary as one JSON line.
  int64_t progress_ms = 10'000;  //!< One progress line (info) this often; 0 = none. Default 10 s.
  //! Create the topics the pipeline reads or writes that do not exist, with the input's partitions.
  //! Default false: a missing topic is named, with the command that creates it.
  bool create_topics = false;
};

//! Exit code of `vigil run` when another instance took over its transactional id or group instance
//! id: restarting it as it is would only fence the other one in turn.
inline constexpr int kExitFenced = 3;

int RunPipelineCommand(const RunOptions& options);
int CheckConfigCommand(const std::string& path);

//! Entry point of the CLI (CLI11). Used by main() and by tests.
int RunCli(int argc, char** argv);

}  // namespace vigil::app
