// runtime.memory: sizes in binary and decimal units or plain bytes, its default, and located errors.
#include <catch2/catch.hpp>

#include "config/pipeline_config.h"
#include "config/reference.h"

namespace vigil::config {
namespace {

const char* kPipeline = R"(name: t
source: {kind: kafka, topic: tx}
schema:
  event_time: TS
  key: CARD
  fields:
    - {name: TS, type: timestamp}
    - {name: CARD, type: string}
output: {kind: kafka, topic: out}
runtime: {commit_interval: 250ms, memory: MEMORY}
)";

std::string With(const std::string& memory) {
  std::string text = kPipeline;
  text.replace(text.find("MEMORY"), 6, memory);
  return text;
}

TEST_CASE("ParseBytes and FormatBytes: binary and decimal units, plain bytes", "[config]") {
  CHECK(*ParseBytes("1GiB") == 1ull << 30);
  CHECK(*ParseBytes("512MiB") == 512ull << 20);
  CHECK(*ParseBytes("1.5GiB") == 3ull << 29);
  CHECK(*ParseBytes("2GB") == 2'000'000'000ull);
  CHECK(*ParseBytes("64KB") == 64'000ull);
  CHECK(*ParseBytes("4096B") == 4096ull);
  CHECK(*ParseBytes("1073741824") == 1ull << 30);
  CHECK_FALSE(ParseBytes("1 gigabyte").ok());
  CHECK_FALSE(ParseBytes("-1GiB").ok());
  CHECK_FALSE(ParseBytes("lots").ok());
  CHECK(FormatBytes(1ull << 30) == "1GiB");
  CHECK(FormatBytes(512ull << 20) == "512MiB");
  CHECK(FormatBytes(1000) == "1000B");
}

TEST_CASE("runtime.memory: the default, values and located errors", "[config]") {
  std::string no_memory = kPipeline;
  no_memory.replace(no_memory.find(", memory: MEMORY"), 16, "");
  auto defaults = LoadPipelineText(no_memory, "p.yaml");
  INFO(defaults.status().message());
  REQUIRE(defaults.ok());
  CHECK(defaults->runtime.memory_bytes == 1ull << 30);
  for (const auto& [text, bytes] : std::vector<std::pair<std::string, uint64_t>>{{"512MiB", 512ull << 20},
                                                                                 {"2GB", 2'000'000'000ull},
                                                                                 {"1GiB", 1ull << 30},
                                                                                 {"67108864", 64ull << 20}}) {
    auto spec = LoadPipelineText(With(text), "p.yaml");
    INFO(text << ": " << spec.status().message());
    REQUIRE(spec.ok());
    CHECK(spec->runtime.memory_bytes == bytes);
  }
  const auto error = [](const std::string& text) {
    auto spec = LoadPipelineText(With(text), "p.yaml");
    REQUIRE_FALSE(spec.ok());
    return spec.status().message();
  };
  // The value's line and column: "runtime: {commit_interval: 250ms, memory: " is 42 characters.
  CHECK(error("1 gigabyte").rfind("p.yaml:10:43: memory: unknown size unit 'gigabyte'", 0) == 0);
  CHECK(error("lots").rfind("p.yaml:10:43: memory: expected a size like 512MiB", 0) == 0);
  CHECK(error("1MiB").rfind("p.yaml:10:43: memory: 1MiB is below the minimum of 16MiB", 0) == 0);
  CHECK(error("[1]").rfind("p.yaml:10:43: memory: expected a size", 0) == 0);
}

TEST_CASE("the reference documents runtime.memory and its split", "[config]") {
  const std::string doc = ReferenceMarkdown();
  CHECK(doc.find("`memory`") != std::string::npos);
  CHECK(doc.find("`1GiB`") != std::string::npos);
  CHECK(
      doc.find("512 MiB of block cache (at most 128 MiB of it memtables) and 512 MiB of write-back caches") !=
      std::string::npos);
}

}  // namespace
}  // namespace vigil::config
