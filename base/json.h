#pragma once
// JSON string literals: the one escaper every JSON writer of the project uses (decision records,
// run records, metadata, HTTP answers, logs).

#include <string>
#include <string_view>

namespace vigil::base {

//! Appends `s` to `out` as a JSON string literal: quotes, `\"`, `\\`, `\n`, `\r`, `\t`, and `\u00XX`
//! for the other control characters. Bytes ≥ 0x80 are copied as they are (`s` is UTF-8). Allocates
//! only when `out` grows.
void AppendJsonString(std::string_view s, std::string* out);
//! `s` as a JSON string literal (see AppendJsonString).
std::string JsonString(std::string_view s);

}  // namespace vigil::base
