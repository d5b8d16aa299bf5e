#include "base/file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace vigil::base {

Result<std::string> ReadFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    const auto code = errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError;
    return Status(code, path + ": " + std::strerror(errno));
  }
  std::string data;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0;) data.append(buffer, n);
  if (std::ferror(file.get())) return Status(StatusCode::kIoError, path + ": read error");
  return data;
}

}  // namespace vigil::base
