// fuzz_config: the input as the text of a pipeline file through config::LoadPipelineText. Every
// problem must come back as a located Status ("fuzz.yaml:line:col: ..."); a crash, or an exception
// escaping (libFuzzer reports it as a crash), is a bug. When the file loads, it is also bound into a
// Plan with the stateless-to-bind operators (parse, derive, window; binding errors are located in the
// file too), as `vigil check-config` does. `score` is left out: binding it reads the model registry
// named in the file, and a fuzzer must not wander the file system.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/pipeline_config.h"
#include "engine/operator_registry.h"
#include "engine/plan.h"
#include "operators/derive.h"
#include "operators/parse.h"
#include "operators/window.h"

namespace vigil::fuzz {
namespace {

constexpr std::string_view kFile = "fuzz.yaml";

[[noreturn]] void Fail(const char* what, const base::Status& st) {
  std::fprintf(stderr, "fuzz_config: invariant violated: %s: %s\n", what, st.ToString().c_str());
  std::abort();
}

//! A config error names the file, a line and a column: "fuzz.yaml:L:C: message".
bool Located(const base::Status& st) {
  const std::string& m = st.message();
  if (m.compare(0, kFile.size() + 1, std::string(kFile) + ":") != 0) return false;
  size_t pos = kFile.size() + 1;
  for (int part = 0; part < 2; ++part) {
    const size_t start = pos;
    while (pos < m.size() && m[pos] >= '0' && m[pos] <= '9') ++pos;
    if (pos == start || pos >= m.size() || m[pos] != ':') return false;
    ++pos;
  }
  return true;
}

const engine::OperatorRegistry& Registry() {
  static const engine::OperatorRegistry registry = [] {
    engine::OperatorRegistry r;
    if (!r.Register("parse", &operators::MakeParse).ok() ||
        !r.Register("derive", &operators::MakeDerive).ok() ||
        !r.Register("window", &operators::MakeWindow).ok())
      std::abort();
    return r;
  }();
  return registry;
}

}  // namespace
}  // namespace vigil::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = config::LoadPipelineText(text, std::string(fuzz::kFile));
  if (!spec.ok()) {
    if (spec.status().code() != base::StatusCode::kInvalidArgument)
      fuzz::Fail("config errors are InvalidArgument", spec.status());
    if (!fuzz::Located(spec.status())) fuzz::Fail("config errors are located", spec.status());
    return 0;
  }
  if (spec->file != fuzz::kFile) std::abort();
  // A file with a score operator fails to bind here ("no operator named 'score'"); that is fine.
  auto plan = engine::Plan::Build(*spec, fuzz::Registry());
  (void)plan;
  return 0;
}
