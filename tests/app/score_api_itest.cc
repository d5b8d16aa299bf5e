// The scoring API of a running pipeline: POST /v1/score computes an event's features from the live
// state of the task that owns its key, without changing it, and answers exactly what the stream then
// decides for the same event; flagged decisions carry reason codes; promote/rollback need the token.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("POST /v1/score answers from live state without changing it and as the stream would",
          "[integration]") {
  const std::string dir = TempDir("vigil-api");
  const std::string vigil = VigilBinary() + " --log-level warn";
  const std::string pipeline = std::string(VIGIL_SOURCE_DIR) + "/deploy/examples/handbook.yaml";
  const std::string sim =
      VigilBinary() + " simulate --customers 300 --terminals 600 --days 40 --seed 4 --quiet";
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  REQUIRE(Shell(vigil + " replay " + pipeline + " --events " + dir + "/tx.jsonl --labels " + dir +
                "/labels.jsonl --out " + dir + "/table.csv > /dev/null") == 0);
  const std::string reg = dir + "/models";
  for (const char* start : {"2018-04-05", "2018-04-12"})
    REQUIRE(Shell(vigil + " train " + pipeline + " --table " + dir + "/table.csv --models-dir " + reg +
                  " --rounds 20 --train-start " + start + " > /dev/null") == 0);
  REQUIRE(Shell(vigil + " models --registry " + reg + " promote v1 > /dev/null") == 0);

  // Two partitions: the pipeline runs in two stages, by customer and (after the repartition topic) by
  // terminal; the API must find the task that owns the customer, then the one that owns the terminal.
  const std::string tx = UniqueTopic("tx"), labels = UniqueTopic("labels"),
                    decisions = UniqueTopic("decisions"), dlq = UniqueTopic("dlq");
  for (const auto& t : {tx, labels, decisions, dlq}) CreateTopic(t, 2);
  std::string yaml = HandbookYaml({tx, labels, decisions, dlq});
  PrependOutputFields(&yaml, "SCORE, DECISION, MODEL_VERSION, REASONS");
  AppendOperators(&yaml,
                  "  - type: score\n    registry: " + reg +
                      "\n    poll: 50ms\n    review_threshold: 0.3\n    reasons: 3\n    feature_log: " + dir +
                      "/log/features.csv\n");
  ReplaceRuntime(&yaml, "runtime: {workers: 2, commit_interval: 500ms, state_dir: " + dir +
                            "/state}\nhttp: {port: 0, token_env: VIGIL_TEST_API_TOKEN}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;
  REQUIRE(Shell(sim + " --kafka " + Bootstrap() + " --topic " + tx + " --labels-topic " + labels +
                " --labels-key TERMINAL_ID 2>/dev/null") == 0);
  const auto inputs = ConsumeAll(tx, 0);
  REQUIRE(inputs.size() > 20'000);

  ::setenv("VIGIL_TEST_API_TOKEN", "s3cret-token", 1);
  Child live({VigilBinary(), "run", dir + "/pipeline.yaml"}, dir + "/run.log");
  const int port = LoggedHttpPort(dir + "/run.log");
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto streamed = ConsumeAll(decisions, inputs.size(), std::chrono::seconds(120));
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(streamed.size() == inputs.size());

  // Reason codes: on every decision at or above the review threshold, none below.
  simdjson::dom::parser parser;
  std::set<std::string> features;
  for (std::string_view f :
       parser.parse(std::string(ReadFile(reg + "/v1/metadata.json")))["features"].get_array())
    features.emplace(f);
  size_t flagged = 0;
  for (const Message& m : streamed) {
    simdjson::dom::element d = parser.parse(m.value);
    const double score = d["SCORE"].get_double().value();
    std::string_view reasons;
    const bool has = !d["REASONS"].get_string().get(reasons) && !reasons.empty();
    REQUIRE(has == (score >= 0.3));
    if (!has) continue;
    ++flagged;
    size_t n = 0;
    for (size_t pos = 0; pos <= reasons.size(); ++n) {
      const size_t semi = std::min(reasons.find(';', pos), reasons.size());
      const std::string_view item = reasons.substr(pos, semi - pos);
      REQUIRE(features.count(std::string(item.substr(0, item.rfind(':')))) == 1);
      pos = semi + 1;
    }
    CHECK(n == 3);
  }
  CHECK(flagged > 0);

  // A new event for the customer of the last transaction, a minute after it.
  simdjson::dom::element last = parser.parse(streamed.back().value);
  std::string last_line;
  for (std::string line; std::ifstream in{dir + "/tx.jsonl"};) {
    while (std::getline(in, line))
      if (!line.empty()) last_line = line;
    break;
  }
  simdjson::dom::element tail = parser.parse(last_line);
  const int64_t customer = tail["CUSTOMER_ID"].get_int64().value(),
                terminal = tail["TERMINAL_ID"].get_int64().value();
  const int64_t time_ms = tail["TX_TIME_MS"].get_int64().value() + 60'000,
                id = tail["TRANSACTION_ID"].get_int64().value() + 1;
  const std::string event = "{\"TRANSACTION_ID\":" + std::to_string(id) +
                            ",\"TX_TIME_MS\":" + std::to_string(time_ms) +
                            ",\"CUSTOMER_ID\":" + std::to_string(customer) +
                            ",\"TERMINAL_ID\":" + std::to_string(terminal) + ",\"TX_AMOUNT\":123.45}";
  std::ofstream(dir + "/event.json") << event;
  (void)last;

  std::string first, second, body;
  REQUIRE(Curl(dir, "-X POST --data-binary @" + dir + "/event.json " + url + "/v1/score", &first) == 200);
  REQUIRE(Curl(dir, "-X POST --data-binary @" + dir + "/event.json " + url + "/v1/score", &second) == 200);
  CHECK(first == second);  // read-only: the first call changed nothing
  simdjson::dom::element answer = parser.parse(first);
  CHECK(std::string_view(answer["model_version"].get_string()) == "v1");
  CHECK_FALSE(bool(answer["state_updated"].get_bool()));
  // The partition that holds the customer: where the simulator's producer put its records. The answer
  // names the last stage's, the terminal's: where the simulator put the terminal's labels.
  int32_t owner = -1, terminal_owner = -1;
  for (const Message& m : inputs)
    if (m.key == std::to_string(customer)) owner = m.partition;
  for (const Message& m : ConsumeAll(labels, 0))
    if (m.key == std::to_string(terminal)) terminal_owner = m.partition;
  REQUIRE(terminal_owner >= 0);
  CHECK(answer["partition"].get_int64().value() == terminal_owner);
  const double api_score = answer["score"].get_double().value();
  std::map<std::string, double> api_features;
  for (auto field : answer["features"].get_object())
    api_features[std::string(field.key)] = field.value.get_double().value();
  REQUIRE(api_features.size() == 15);
  CHECK(api_features["CUSTOMER_ID_NB_TX_1DAY_WINDOW"] >= 1);

  // Exact reasons on request, for any score.
  REQUIRE(Curl(dir, "-X POST --data-binary @" + dir + "/event.json '" + url + "/v1/score?reasons=exact'",
               &body) == 200);
  CHECK(parser.parse(body)["reasons"].get_array().value().size() == 3);

  // The stream, given the same event now, computes the same features and score.
  Produce(tx, {Message{std::to_string(customer), event, owner}});
  streamed = ConsumeAll(decisions, inputs.size() + 1, std::chrono::seconds(60));
  REQUIRE(streamed.size() == inputs.size() + 1);
  const Message* decided = nullptr;
  for (const Message& m : streamed)
    if (m.value.find("\"TRANSACTION_ID\":" + std::to_string(id) + ",") != std::string::npos) decided = &m;
  REQUIRE(decided != nullptr);
  simdjson::dom::element d = parser.parse(decided->value);
  CHECK(d["SCORE"].get_double().value() == Approx(api_score).epsilon(0).margin(1e-12));
  for (const auto& [name, value] : api_features) {
    INFO(name);
    CHECK(d[name].get_double().value() == value);
  }

  // Rejected events say why; an unowned or unknown route is an error, not a guess.
  REQUIRE(Curl(dir, "-X POST --data-binary '{\"TRANSACTION_ID\":1}' " + url + "/v1/score", &body) == 400);
  CHECK_THAT(body, Catch::Contains("no key field 'CUSTOMER_ID'"));
  REQUIRE(Curl(dir, "-X POST --data-binary '{\"CUSTOMER_ID\":1,\"TX_AMOUNT\":-5}' " + url + "/v1/score",
               &body) == 422);
  CHECK_THAT(body, Catch::Contains("\"reason\":"));

  // Promote and roll back through the API: the token is required.
  const std::string promote = "-X POST --data-binary '{\"version\":\"v2\"}' " + url + "/v1/models/promote";
  CHECK(Curl(dir, promote, &body) == 401);
  CHECK(Curl(dir, "-H 'Authorization: Bearer wrong' " + promote, &body) == 401);
  CHECK(ReadFile(reg + "/CHAMPION") == "v1\n");
  CHECK(Curl(dir,
             "-H 'Authorization: Bearer s3cret-token' -X POST --data-binary '{\"version\":\"v9\"}' " + url +
                 "/v1/models/promote",
             &body) == 404);
  REQUIRE(Curl(dir, "-H 'Authorization: Bearer s3cret-token' " + promote, &body) == 200);
  CHECK(ReadFile(reg + "/CHAMPION") == "v2\n");
  REQUIRE(Curl(dir, url + "/v1/models", &body) == 200);
  CHECK(body == R"({"champion":"v2","candidate":null,"versions":["v1","v2"]})");
  // The running scorer picks the promotion up.
  std::string version;
  // Bounded by a deadline, not a count: a loaded machine polls the registry later.
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       version != "v2" && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(Curl(dir, "-X POST --data-binary @" + dir + "/event.json " + url + "/v1/score", &body) == 200);
    version = std::string(std::string_view(parser.parse(body)["model_version"].get_string()));
  }
  CHECK(version == "v2");
  CHECK(Curl(dir, "-X POST " + url + "/v1/models/rollback", &body) == 401);
  REQUIRE(Curl(dir, "-H 'Authorization: Bearer s3cret-token' -X POST " + url + "/v1/models/rollback",
               &body) == 200);
  CHECK(body == R"({"champion":"v1"})");
  CHECK(ReadFile(dir + "/run.log").find("s3cret-token") == std::string::npos);

  live.Signal(SIGTERM);
  CHECK(live.Wait(std::chrono::seconds(60)) == 0);

  // The feature log: every event whose label was due by the end of the stream (7 days after its
  // event time), with the vector it was served, its score and its label; a training table.
  std::map<int64_t, int> truth;
  {
    std::ifstream in(dir + "/labels.jsonl");
    for (std::string line; std::getline(in, line);) {
      simdjson::dom::element l = parser.parse(line);
      truth[l["TRANSACTION_ID"].get_int64().value()] = static_cast<int>(l["TX_FRAUD"].get_int64().value());
    }
  }
  std::map<int64_t, std::string> served;
  int64_t newest = 0;
  for (const Message& m : streamed) {
    simdjson::dom::element doc = parser.parse(m.value);
    served[doc["TRANSACTION_ID"].get_int64().value()] = m.value;
    newest = std::max(newest, doc["TX_TIME_MS"].get_int64().value());
  }
  size_t due = 0;
  for (const auto& [tx_id, value] : served)
    if (parser.parse(value)["TX_TIME_MS"].get_int64().value() + 7 * 86'400'000LL <= newest) ++due;
  std::ifstream log(dir + "/log/features.csv");
  std::string header, cell;
  std::getline(log, header);
  REQUIRE(header.rfind("TRANSACTION_ID,TX_TIME_MS,CUSTOMER_ID,TX_AMOUNT,", 0) == 0);
  std::vector<std::string> columns;
  for (std::stringstream h(header); std::getline(h, cell, ',');) columns.push_back(cell);
  REQUIRE(columns.size() ==
          3 + 15 + 5);  // ids, features, SCORE, MODEL_VERSION, LABEL, source partition, offset
  CHECK(columns[21] == "SOURCE_PARTITION");
  CHECK(columns[22] == "SOURCE_OFFSET");
  size_t rows = 0, frauds = 0, mismatches = 0;
  for (std::string line; std::getline(log, line); ++rows) {
    std::vector<std::string> cells;
    for (std::stringstream c(line); std::getline(c, cell, ',');) cells.push_back(cell);
    if (line.back() == ',') cells.push_back("");
    REQUIRE(cells.size() == columns.size());
    const int64_t tx_id = std::stoll(cells[0]);
    REQUIRE(served.count(tx_id) == 1);
    simdjson::dom::element decision = parser.parse(served[tx_id]);
    for (size_t c = 3; c < 3 + 15; ++c) {
      const float logged = std::stof(cells[c]);
      if (logged != static_cast<float>(decision[columns[c]].get_double().value()) && ++mismatches < 5)
        UNSCOPED_INFO(columns[c] << " of " << tx_id << ": logged " << cells[c]);
    }
    CHECK(std::stod(cells[18]) == Approx(decision["SCORE"].get_double().value()).margin(1e-6));
    const int label = std::stoi(cells[20]);
    CHECK(label == (truth.count(tx_id) ? truth[tx_id] : 0));
    CHECK(std::stoll(cells[21]) >= 0);  // the event's input partition and offset
    CHECK(std::stoll(cells[22]) >= 0);
    frauds += static_cast<size_t>(label);
  }
  CHECK(mismatches == 0);
  CHECK(rows == due);
  CHECK(frauds > 0);
  // It trains like a replay table.
  CHECK(Shell(vigil + " train " + pipeline + " --table " + dir + "/log/features.csv --models-dir " + reg +
              " --rounds 10 --train-start 2018-04-12 --valid-days 3 > " + dir + "/train.log 2>&1") == 0);
  INFO(ReadFile(dir + "/train.log"));
  CHECK(ReadFile(reg + "/v3/metadata.json").find("\"parent\": \"v1\"") != std::string::npos);
}

}  // namespace
}  // namespace vigil::testing
