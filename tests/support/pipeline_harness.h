#pragma once
// Runs a pipeline in-process over JSONL text, with sinks that keep what they receive. For operator
// and runtime tests that need no broker. The same engine::Pipeline as `vigil run`.

#include <string>
#include <vector>

#include "engine/io.h"

namespace vigil::testing {

//! One record a capturing sink received.
struct Captured {
  std::string key;
  std::string value;
  std::string reason;  //!< Dead letters only.
  std::string field;   //!< Dead letters only.
  int64_t offset = 0;
};

//! What a harness run produced.
struct HarnessResult {
  base::Status status;
  std::vector<Captured> outputs;
  std::vector<Captured> dead_letters;
};

//! Runs `yaml` (its source and sinks are replaced by `jsonl` and capturing sinks) with state in
//! `state_dir`. Fails the test if the config does not bind.
HarnessResult RunOnText(const std::string& yaml, const std::string& jsonl, const std::string& state_dir);

//! A sink that keeps everything in memory; thread-safe.
class CapturingSink final : public engine::Sink {
 public:
  explicit CapturingSink(std::vector<Captured>* into) : into_(into) {}
  base::Status Write(const engine::OutBatch& batch) override;
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }

 private:
  std::vector<Captured>* into_;
};

}  // namespace vigil::testing
