#pragma once
// `vigil runs list|show`: the training run records of a model registry (models/registry.h) from the
// command line.

#include <CLI/CLI.hpp>
#include <string>

namespace vigil::app {

//! Options of `vigil runs`.
struct RunsOptions {
  std::string registry;  //!< Models directory; the records are in `<registry>/runs/`.
  std::string action;    //!< "list" or "show"; empty when the subcommand was not given.
  std::string id;        //!< For show: the run id.
  bool json = false;     //!< Print JSON instead of text. Default off.
};

//! `list` prints one line per run, oldest first (id, trigger, training window, train and validation
//! AP, version, duration, outcome); `show` prints one record in full. Returns 0; 2 for an unknown
//! registry or run ("no run 'X' in 'DIR'"); 1 for a record that does not parse (the error names the
//! file).
int RunsCommand(const RunsOptions& options);
void AddRunsCommand(CLI::App& app, RunsOptions& options);

}  // namespace vigil::app
