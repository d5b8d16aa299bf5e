#include "app/config_reference_command.h"

#include <cstdio>
#include <string>

#include "config/reference.h"

namespace vigil::app {

int ConfigReferenceCommand() {
  const std::string md = config::ReferenceMarkdown();
  // A full disk or a closed pipe must not leave a truncated docs/config.md behind a success.
  if (std::fwrite(md.data(), 1, md.size(), stdout) != md.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "vigil config-reference: cannot write the reference to standard output\n");
    return 1;
  }
  return 0;
}

void AddConfigReferenceCommand(CLI::App& app, ConfigReferenceOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "config-reference",
      "Print the pipeline file reference as Markdown: every key, its type, default and meaning");
  cmd->footer(
      "docs/config.md is this output; regenerate it with: build/release/app/vigil config-reference > "
      "docs/config.md");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
