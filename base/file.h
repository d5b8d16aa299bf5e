#pragma once
// Reading a whole file into memory: input files of replay, tables of training, benches' data.

#include <string>

#include "base/status.h"

namespace vigil::base {

//! The bytes of the file at `path`. Errors name the path: NotFound when it does not exist, IoError
//! when it cannot be opened or read.
Result<std::string> ReadFile(const std::string& path);

}  // namespace vigil::base
