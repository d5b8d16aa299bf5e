#pragma once
// Internal to vigil::models: whole-file reads and atomic replacement of small files (CHAMPION, run
// records), shared by registry.cc and registry_runs.cc.

#include <filesystem>
#include <string>

#include "base/status.h"

namespace vigil::models {

//! The whole content of `path`. NotFound, naming the path, if it cannot be opened.
base::Result<std::string> ReadText(const std::filesystem::path& path);

//! Replaces `path` with `text` atomically: writes `<path>.tmp`, then renames it over `path`, so a
//! concurrent reader sees the old content or the new one, never a mix. IoError, naming the file, on
//! failure. Two writers of the same path at once may lose one update (the last rename wins).
base::Status WriteAtomically(const std::filesystem::path& path, const std::string& text);

}  // namespace vigil::models
