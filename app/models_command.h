#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace vigil::app {

//! Options of `vigil models`.
struct ModelsOptions {
  std::string registry;  //!< Models directory.
  std::string action;    //!< list, show, promote or rollback; empty when not selected.
  std::string version;   //!< For show and promote.
};

int ModelsCommand(const ModelsOptions& options);
void AddModelsCommand(CLI::App& app, ModelsOptions& options);

}  // namespace vigil::app
