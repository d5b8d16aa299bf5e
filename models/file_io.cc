#include "models/file_io.h"

#include <fstream>
#include <sstream>

namespace vigil::models {

namespace fs = std::filesystem;

base::Result<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot read '" + path.string() + "'");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

base::Status WriteAtomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return base::IoError("cannot write '" + tmp.string() + "'");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return base::IoError("cannot rename to '" + path.string() + "': " + ec.message());
  return base::Status::OK();
}

}  // namespace vigil::models
