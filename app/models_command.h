#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vigil::app {

//! Options of `vigil models`.
struct ModelsOptions {
  std::string registry;  //!< Models directory.
  std::string action;    //!< list, show, promote or rollback; empty when not selected.
  std::string version;   //!< For show and promote; for import, the new version's name (default v<N+1>).
  // import:
  std::string model;     //!< The XGBoost model file (JSON or UBJSON) to register.
  std::string pipeline;  //!< The pipeline whose `features:` the model must read.
  std::string table;     //!< A training table (vigil replay's CSV) for metrics, reference and golden rows.
  std::string start;     //!< First day (UTC) of the rows the model was trained on; default: the whole table.
  int days = 7;          //!< With `start`: that window's length in days. Default 7.
  bool promote = false;  //!< Promote it once registered. Default off.
};

int ModelsCommand(const ModelsOptions& options);
void AddModelsCommand(CLI::App& app, ModelsOptions& options);

}  // namespace vigil::app
