#include <catch2/catch.hpp>

#include "tests/support/pipeline_harness.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

const char* kYaml = R"(source: {kind: file, path: unused}
schema:
  event_time: TS
  key: CARD
  max_event_bytes: 200
  fields:
    - {name: TS, type: timestamp, format: iso8601}
    - {name: CARD, type: string}
    - {name: N, type: int64, min: 0}
    - {name: AMOUNT, type: double, min: 0, max: 100}
    - {name: OK, type: bool, required: false}
    - {name: CHANNEL, type: string, required: false, enum: [web, pos]}
output: {kind: none}
)";

TEST_CASE("parse fills typed columns and dead-letters each kind of bad event with its reason",
          "[operators]") {
  const std::string good =
      R"({"TS":"2018-04-01T00:00:31Z","CARD":"c\"1","N":3,"AMOUNT":12.5,"OK":true,"X":{"nested":[1,2]}})";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":3)", "invalid_json"},
      {R"([1,2,3])", "invalid_json"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":3,"AMOUNT":1} trailing)", "invalid_json"},
      {"{\"TS\":\"2018-04-01T00:00:31Z\",\"CARD\":\"c\xc3\x28\",\"N\":3,\"AMOUNT\":1}", "invalid_utf8"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","AMOUNT":1})", "missing_field"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":null,"N":1,"AMOUNT":1})", "missing_field"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":"3","AMOUNT":1})", "wrong_type"},
      {R"({"TS":"yesterday","CARD":"c1","N":3,"AMOUNT":1})", "wrong_type"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":3.5,"AMOUNT":1})", "wrong_type"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":3,"AMOUNT":100.5})", "out_of_range"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":-1,"AMOUNT":1})", "out_of_range"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":1,"AMOUNT":1,"CHANNEL":"atm"})", "invalid_enum"},
      {R"({"TS":"2018-04-01T00:00:31Z","CARD":"c1","N":1,"AMOUNT":1,"PAD":")" + std::string(300, 'x') + "\"}",
       "too_large"},
  };
  std::string input = good + "\n";
  for (const auto& [line, reason] : bad) input += line + "\n";
  const auto r = RunOnText(kYaml, input, TempDir("parse"));
  REQUIRE(r.status.ok());
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].key == "c\"1");
  CHECK(r.outputs[0].value ==
        R"({"TS":1522540831000,"CARD":"c\"1","N":3,"AMOUNT":12.5,"OK":true,"CHANNEL":null})");
  REQUIRE(r.dead_letters.size() == bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO(bad[i].first);
    CHECK(r.dead_letters[i].reason == bad[i].second);
    CHECK(r.dead_letters[i].value == bad[i].first);  // original bytes
    CHECK(r.dead_letters[i].offset == static_cast<int64_t>(i + 1));
  }
  CHECK(r.dead_letters[4].field == "N");
  CHECK(r.dead_letters[6].field == "N");
  CHECK(r.dead_letters[11].field == "CHANNEL");
}

// Inputs found by fuzz_event (fuzz/): each once crashed the task or slipped a bad value through.
TEST_CASE("parse dead-letters a malformed null, INT64_MIN and times beyond 2^53 ms without crashing",
          "[operators]") {
  const char* yaml = R"(source: {kind: file, path: unused}
schema:
  event_time: MS
  fields:
    - {name: MS, type: timestamp, format: epoch_ms}
    - {name: S, type: timestamp, format: epoch_s, required: false}
    - {name: N, type: int64}
    - {name: X, type: string, required: false}
output: {kind: none}
)";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"MS":1,"N":1,"X":nul})", "invalid_json"},  // used to throw out of simdjson and terminate
      {R"({"MS":1,"N":1,"X":nullx})", "invalid_json"},
      {R"({"MS":1,"N":-9223372036854775808})", "out_of_range"},  // the null sentinel, read back as missing
      {R"({"MS":1.52254e+21,"N":1})", "out_of_range"},           // undefined double to int64 conversion
      {R"({"MS":9007199254740994,"N":1})", "out_of_range"},
      {R"({"MS":1,"S":-1e300,"N":1})", "out_of_range"},
  };
  std::string input = R"({"MS":-9007199254740992,"S":1522540831.5,"N":-9223372036854775807,"X":null})";
  input += "\n";
  for (const auto& [line, reason] : bad) input += line + "\n";
  const auto r = RunOnText(yaml, input, TempDir("parse_fuzz"));
  REQUIRE(r.status.ok());
  REQUIRE(r.outputs.size() == 1);
  CHECK(r.outputs[0].value ==
        R"({"MS":-9007199254740992,"S":1522540831500,"N":-9223372036854775807,"X":null})");
  REQUIRE(r.dead_letters.size() == bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO(bad[i].first);
    CHECK(r.dead_letters[i].reason == bad[i].second);
  }
}

TEST_CASE("parse dead-letters malformed JSON under fields the schema does not name", "[operators]") {
  const char* yaml = R"(source: {kind: file, path: unused}
schema:
  event_time: MS
  fields:
    - {name: MS, type: timestamp, format: epoch_ms}
output: {kind: none}
)";
  // Well-formed values of every kind under unknown keys are skipped, whatever they hold.
  const std::vector<std::string> good = {
      R"({"MS":1,"X":{"a":[1,-2.5e3,"s\u00e9\n",true,false,null,{}],"b":{"c":[]}}})",
      R"({"U":123456789012345678901234567890,"V":1e999,"W":-0.0,"MS":2})",
      R"({"MS":3,"E":"","A":[[[[]]]],"O":{"k":{"k":{"k":null}}}})",
  };
  const std::vector<std::string> bad = {
      R"({"MS":1,"X":tru})",      R"({"MS":1,"X":nul})",      R"({"MS":1,"X":fals})",
      R"({"MS":1,"X":[1,2,]})",   R"({"MS":1,"X":[1 2]})",    R"({"MS":1,"X":{"a"}})",
      R"({"MS":1,"X":{"a":1,}})", R"({"MS":1,"X":{1:2}})",    R"({"MS":1,"X":"bad\q escape"})",
      R"({"MS":1,"X":01})",       R"({"MS":1,"X":1.})",       R"({"MS":1,"X":-})",
      R"({"MS":1,"X":+1})",       R"({"MS":1,"X":[nulll]})",  R"({"MS":1,"X":{"a":[1,{"b":x}]}})",
      R"({"X":[1,,2],"MS":1})",   R"({"X":"\ud800","MS":1})",
  };
  std::string input;
  for (const auto& line : good) input += line + "\n";
  for (const auto& line : bad) input += line + "\n";
  const auto r = RunOnText(yaml, input, TempDir("parse_unknown"));
  REQUIRE(r.status.ok());
  CHECK(r.outputs.size() == good.size());
  REQUIRE(r.dead_letters.size() == bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO(bad[i]);
    CHECK(r.dead_letters[i].reason == "invalid_json");
    CHECK(r.dead_letters[i].value == bad[i]);
  }
}

}  // namespace
}  // namespace vigil::testing
