#pragma once
// The live status page of `vigil run`, served at GET / (app/http_api.cc). The page itself is
// app/status/status.html, compiled in at build time (see CMakeLists.txt here).

#include <string_view>

namespace vigil::status {

//! The whole page: HTML with its CSS and JavaScript inline, UTF-8. Static storage: the view is valid
//! for the life of the process. Thread-safe.
std::string_view Page();

}  // namespace vigil::status
