#pragma once
// `vigil config-reference`: prints the reference of pipeline YAML files (config/reference.h) as
// Markdown, the text committed as docs/config.md.

#include <CLI/CLI.hpp>

namespace vigil::app {

struct ConfigReferenceOptions {
  bool selected = false;  //!< Set when the subcommand was given.
};

//! Writes config::ReferenceMarkdown() to standard output. Returns 0, or 1 when the write failed.
int ConfigReferenceCommand();
void AddConfigReferenceCommand(CLI::App& app, ConfigReferenceOptions& options);

}  // namespace vigil::app
