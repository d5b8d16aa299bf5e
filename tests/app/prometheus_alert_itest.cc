// The shipped alerting rules (deploy/prometheus/vigil-rules.yml) in a real Prometheus: it scrapes a
// vigil::engine::HttpServer whose /metrics the test controls, with every `for:` shortened to 2 s.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <thread>

#include "engine/http_server.h"
#include "tests/support/prometheus_env.h"

namespace vigil::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kPoll{200};

//! The drift gauges of one feature of pipeline "p", as vigil's drift monitor exports them.
std::string DriftMetrics(double psi) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::ostringstream out;
  out << "# HELP vigil_feature_psi Population stability index of a feature against its reference.\n"
      << "# TYPE vigil_feature_psi gauge\n"
      << "vigil_feature_psi{pipeline=\"p\",feature=\"AMOUNT\",model_version=\"v1\"} " << psi << "\n"
      << "# HELP vigil_drift_last_evaluation_timestamp_seconds Unix time of the last drift evaluation.\n"
      << "# TYPE vigil_drift_last_evaluation_timestamp_seconds gauge\n"
      << "vigil_drift_last_evaluation_timestamp_seconds{pipeline=\"p\"} "
      << std::chrono::duration_cast<std::chrono::seconds>(now).count() << "\n";
  return out.str();
}

std::string Names(const std::vector<PrometheusAlert>& alerts) {
  std::string out;
  for (const auto& alert : alerts) out += alert.name() + " (" + alert.state + ") ";
  return out;
}

const PrometheusAlert* FindAlert(const std::vector<PrometheusAlert>& alerts, const std::string& name) {
  for (const auto& alert : alerts) {
    if (alert.name() == name) return &alert;
  }
  return nullptr;
}

//! Polls until the rule `name` has been evaluated `cycles` more times, checking after each poll that
//! no alert at all is pending or firing. Fails the test if that takes longer than `timeout`.
void ExpectQuietFor(const PrometheusEnv& prometheus, const std::string& name, int cycles, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::string last;
  int seen = -1;  // the evaluation current at the start does not count
  while (seen < cycles) {
    INFO("prometheus log:\n" << prometheus.Log());
    REQUIRE(steady_clock::now() < deadline);
    for (const auto& rule : prometheus.Rules()) {
      if (rule.name != name) continue;
      INFO("rule " << rule.name << ": " << rule.last_error);
      REQUIRE(rule.health != "err");
      if (rule.health == "ok" && rule.last_evaluation != last) {
        last = rule.last_evaluation;
        ++seen;
      }
    }
    const auto alerts = prometheus.Alerts();
    INFO("alerts: " << Names(alerts));
    REQUIRE(alerts.empty());
    std::this_thread::sleep_for(kPoll);
  }
}

TEST_CASE("VigilFeatureDrift fires in a real Prometheus once vigil_feature_psi exceeds 0.25", "[integration]") {
  std::atomic<double> psi{0.01};
  engine::HttpServerOptions http;
  http.port = 0;
  auto started = engine::HttpServer::Start(http);
  REQUIRE(started.ok());
  const std::unique_ptr<engine::HttpServer> server = std::move(started).value();
  server->Route(
      "GET", "/metrics",
      [&psi](const engine::HttpRequest&) {
        return engine::TextResponse(200, DriftMetrics(psi.load()), "text/plain; version=0.0.4; charset=utf-8");
      },
      engine::RouteKind::kReadOnly);

  PrometheusOptions options;
  options.targets = {"127.0.0.1:" + std::to_string(server->port())};
  options.rule_files = {ShippedRulesPath()};
  options.rules_for = "2s";
  const auto prometheus = PrometheusEnv::Start(options);

  // The shipped rules are loaded, every `for:` shortened, and the first scrape has landed.
  bool loaded = false;
  for (const auto& rule : prometheus->Rules()) {
    INFO("rule " << rule.name);
    if (rule.type == "alerting") CHECK(rule.for_seconds == 2);
    loaded = loaded || rule.name == "VigilFeatureDrift";
  }
  REQUIRE(loaded);
  const auto deadline = steady_clock::now() + milliseconds(15'000);
  std::vector<PrometheusSample> samples;
  while ((samples = prometheus->Query("vigil_feature_psi")).empty()) {
    INFO("prometheus log:\n" << prometheus->Log());
    REQUIRE(steady_clock::now() < deadline);
    std::this_thread::sleep_for(kPoll);
  }
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].value == Approx(0.01));
  CHECK(samples[0].labels["job"] == "vigil");

  // Below the threshold: several evaluations later, still no alert (nor any other: the evaluation
  // timestamp is fresh, and nothing else is exported).
  ExpectQuietFor(*prometheus, "VigilFeatureDrift", 4, milliseconds(20'000));

  psi = 0.6;
  const PrometheusAlert* firing = nullptr;
  std::vector<PrometheusAlert> alerts;
  const auto fire_deadline = steady_clock::now() + milliseconds(20'000);
  while (firing == nullptr || firing->state != "firing") {
    INFO("alerts: " << Names(alerts) << "\nprometheus log:\n" << prometheus->Log());
    REQUIRE(steady_clock::now() < fire_deadline);
    std::this_thread::sleep_for(kPoll);
    alerts = prometheus->Alerts();
    firing = FindAlert(alerts, "VigilFeatureDrift");
  }
  INFO("alerts: " << Names(alerts));
  CHECK(alerts.size() == 1);
  PrometheusAlert alert = *firing;
  CHECK(alert.labels["feature"] == "AMOUNT");
  CHECK(alert.labels["severity"] == "warning");
  CHECK(alert.labels["pipeline"] == "p");
  CHECK(alert.labels["model_version"] == "v1");
  CHECK(alert.labels["job"] == "vigil");
  CHECK(alert.labels["instance"] == options.targets[0]);
  CHECK(std::stod(alert.value) == Approx(0.6));
  CHECK(alert.annotations["summary"] == "Feature AMOUNT drifted in pipeline p");
  CHECK(alert.annotations["description"].find("is 0.600, above 0.25") != std::string::npos);
  CHECK_FALSE(alert.annotations["runbook"].empty());

  // Back below the threshold: the alert resolves.
  psi = 0.01;
  const auto resolve_deadline = steady_clock::now() + milliseconds(15'000);
  while (FindAlert(alerts = prometheus->Alerts(), "VigilFeatureDrift") != nullptr) {
    INFO("alerts: " << Names(alerts) << "\nprometheus log:\n" << prometheus->Log());
    REQUIRE(steady_clock::now() < resolve_deadline);
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace
}  // namespace vigil::testing
