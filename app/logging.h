#pragma once
// How vigil's log lines look: `--log-level` and `--log-format` of the CLI.

#include <string_view>

#include "base/status.h"

namespace vigil::app {

//! Sets the process-wide log level ("trace", "debug", "info", "warn", "error" or "off") and format:
//! "text" (`2026-12-05T22:42:06.123+00:00 info message`) or "json" (one object a line:
//! `{"time":"...","level":"info","msg":"..."}`, the message JSON-escaped). Timestamps are local time
//! with their UTC offset. InvalidArgument names a bad value. Call once, before any other thread logs.
base::Status ConfigureLogging(std::string_view level, std::string_view format);

}  // namespace vigil::app
