#pragma once
// The smallest stateful pipeline the runtime tests use: events {ID, T, K} through one window that
// counts K's events over 100 ms, decisions [ID, C]. Only the runtime line differs between tests.

#include <string>
#include <string_view>

namespace vigil::testing {

//! The pipeline YAML with `runtime` as its runtime: line, e.g. "{workers: 1, commit_interval: 20ms}".
inline std::string CountWindowYaml(std::string_view runtime) {
  return R"(source: {kind: file, path: unused}
schema:
  event_time: T
  fields:
    - {name: ID, type: int64}
    - {name: T, type: timestamp}
    - {name: K, type: string}
operators:
  - type: window
    key: K
    lateness: 10
    outputs:
      - {name: C, agg: count, window: 100}
output: {kind: none, fields: [ID, C]}
runtime: )" +
         std::string(runtime) + "\n";
}

}  // namespace vigil::testing
