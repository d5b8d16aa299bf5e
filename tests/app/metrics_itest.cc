// /metrics of a running pipeline passes `promtool check metrics` and counts what happened.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

TEST_CASE("/metrics passes promtool check metrics", "[integration]") {
  const std::string dir = TempDir("vigil-metrics");
  const std::string in = UniqueTopic("tx"), out = UniqueTopic("out"), dlq = UniqueTopic("dlq");
  CreateTopic(in, 2);
  CreateTopic(out, 2);
  CreateTopic(dlq, 1);
  std::vector<Message> messages;
  for (int i = 0; i < 1000; ++i)
    messages.push_back(Message{std::to_string(i % 10),
                               R"({"ID":)" + std::to_string(i) + R"(,"T":)" + std::to_string(1000 * i) +
                                   R"(,"K":)" + std::to_string(i % 10) + "}",
                               -1});
  messages.push_back(Message{std::nullopt, "not json", -1});
  Produce(in, messages);
  const std::string config = dir + "/p.yaml";
  std::ofstream(config)
      << "name: metrics\nsource: {kind: kafka, topic: " << in << "}\n"
      << "kafka: {bootstrap: '" << Bootstrap() << "'}\n"
      << "schema:\n  event_time: T\n  fields:\n    - {name: ID, type: int64}\n"
      << "    - {name: T, type: timestamp}\n    - {name: K, type: int64}\n"
      << "operators:\n  - type: window\n    key: K\n    outputs: [{name: C, agg: count, window: 1h}]\n"
      << "output: {kind: kafka, topic: " << out << "}\ndead_letter: {kind: kafka, topic: " << dlq << "}\n"
      << "runtime: {state_dir: " << dir << "/state, commit_interval: 100ms}\n"
      << "http: {port: 0}\n";
  Child vigil({VigilBinary(), "run", config}, dir + "/vigil.log");
  std::smatch m;
  std::string log;
  const std::regex port_re("http server on 127\\.0\\.0\\.1:([0-9]+)");
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !std::regex_search(log, m, port_re) && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = ReadFile(dir + "/vigil.log");
  }
  INFO(log);
  REQUIRE(m.size() == 2);
  const std::string url = "http://127.0.0.1:" + m[1].str();
  // Wait until every event is counted (a commit publishes the state gauges too).
  std::string metrics;
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
       std::chrono::steady_clock::now() < until;) {
    REQUIRE(Shell("curl -sf " + url + "/metrics -o " + dir + "/metrics.txt") == 0);
    metrics = ReadFile(dir + "/metrics.txt");
    if (metrics.find("vigil_events_in_total{pipeline=\"metrics\"} 1001") != std::string::npos &&
        metrics.find("vigil_state_cached_keys{pipeline=\"metrics\"} 10") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(metrics);
  CHECK(Shell("promtool check metrics < " + dir + "/metrics.txt > " + dir + "/promtool.txt 2>&1") == 0);
  INFO(ReadFile(dir + "/promtool.txt"));
  CHECK(metrics.find("vigil_events_in_total{pipeline=\"metrics\"} 1001") != std::string::npos);
  CHECK(metrics.find("vigil_events_out_total{pipeline=\"metrics\"} 1000") != std::string::npos);
  CHECK(metrics.find("vigil_dead_letters_total{pipeline=\"metrics\",reason=\"invalid_json\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("vigil_batch_latency_seconds_bucket") != std::string::npos);
  CHECK(metrics.find("vigil_consumer_lag_events{partition=\"0\",pipeline=\"metrics\"} 0") !=
        std::string::npos);
  CHECK(metrics.find("vigil_state_cached_keys{pipeline=\"metrics\"} 10") != std::string::npos);
  CHECK(Shell("curl -sf " + url + "/readyz > /dev/null") == 0);
  CHECK(Shell("curl -sf " + url + "/healthz > /dev/null") == 0);
  vigil.Signal(SIGTERM);
  CHECK(vigil.Wait(std::chrono::seconds(30)) == 0);
}

}  // namespace
}  // namespace vigil::testing
