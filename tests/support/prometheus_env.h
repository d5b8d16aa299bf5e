#pragma once
// A real Prometheus server for end-to-end alert tests: Debian's /usr/bin/prometheus as a child process
// on a free loopback port, with a generated configuration (one scrape job, the given rule files), its
// own temporary storage, and small clients for /api/v1/alerts, /api/v1/query and /api/v1/rules.
//
// Lifecycle: PrometheusEnv::Start() writes the configuration, starts the server and returns once
// /-/ready answers 200; the destructor stops the server (SIGTERM, then SIGKILL after 10 s) and removes
// the temporary directory with everything in it (configuration, rule copies, storage, log).
//
// Errors are reported through Catch2 (FAIL / REQUIRE), so every function here may only be called from
// inside a TEST_CASE, on the test's thread (Catch2 assertions are not thread-safe). The query
// functions take a few milliseconds each: poll them, with a deadline, rather than sleeping.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.h"

namespace vigil::testing {

//! Options of PrometheusEnv::Start. Each field states its default and unit.
struct PrometheusOptions {
  //! Scrape targets of the one job, as "host:port" (e.g. "127.0.0.1:40123"). Default none.
  std::vector<std::string> targets;
  //! Job name of those targets. Default "vigil": the shipped rules match up{job="vigil"}.
  std::string job = "vigil";
  //! Path scraped on every target. Default "/metrics".
  std::string metrics_path = "/metrics";
  //! Scrape interval, also used as the scrape timeout. Default 1 s; at least 1 ms.
  std::chrono::milliseconds scrape_interval{1000};
  //! Rule evaluation interval. Default 1 s; at least 1 ms.
  std::chrono::milliseconds evaluation_interval{1000};
  //! Rule files to load, by absolute path (e.g. ShippedRulesPath()). Default none.
  std::vector<std::string> rule_files;
  //! When not empty, every rule file is loaded as a copy whose `for:` durations all read this
  //! Prometheus duration instead (e.g. "2s"), see CopyRulesWithFor(). Default empty: files as they are.
  std::string rules_for;
  //! The Prometheus binary. Default empty: env VIGIL_TEST_PROMETHEUS, else "/usr/bin/prometheus"
  //! (Debian's `prometheus` package, installed by scripts/setup).
  std::string binary;
  //! How long Start() waits for /-/ready. Default 30 s.
  std::chrono::milliseconds ready_timeout{30'000};
};

//! One HTTP response; status 0 means no response (the error is in `body`).
struct PrometheusReply {
  int status = 0;
  std::string body;
};

//! One entry of /api/v1/alerts: an alert that is pending or firing.
struct PrometheusAlert {
  std::map<std::string, std::string> labels;       //!< Including "alertname".
  std::map<std::string, std::string> annotations;  //!< Templates expanded.
  std::string state;                               //!< "pending" or "firing".
  std::string value;                               //!< The expression's value as Prometheus prints it.

  //! labels["alertname"], or "" when missing.
  std::string name() const;
};

//! One element of an instant query's result (a scalar result gives one sample without labels).
struct PrometheusSample {
  std::map<std::string, std::string> labels;  //!< Including "__name__" when the series has one.
  double value = 0;
};

//! One rule of /api/v1/rules.
struct PrometheusRule {
  std::string group;            //!< Name of the rule group.
  std::string name;             //!< Alert name, or the recorded series' name.
  std::string type;             //!< "alerting" or "recording".
  std::string health;           //!< "ok", "err" or "unknown" (not evaluated yet).
  std::string last_error;       //!< Empty unless health is "err".
  std::string last_evaluation;  //!< RFC 3339 time of the last evaluation; changes with each one.
  std::string state;            //!< Alerting rules: "inactive", "pending" or "firing".
  double for_seconds = 0;       //!< Alerting rules: the `for:` duration, in seconds.
};

//! Path of the shipped alerting rules: <source dir>/deploy/prometheus/vigil-rules.yml.
std::string ShippedRulesPath();

//! Writes a copy of the rules file `from` to `to` in which every `for:` line (a line whose first
//! non-blank text is `for:`) carries `for_duration` (e.g. "2s") instead; everything else is kept byte
//! for byte. Returns how many lines were replaced. Fails the test if `from` cannot be read or `to`
//! cannot be written.
int CopyRulesWithFor(const std::string& from, const std::string& to, std::string_view for_duration);

//! A running Prometheus server. Owns the child process and its temporary directory. Not copyable;
//! the accessors are const and may be called any number of times.
class PrometheusEnv {
 public:
  //! Writes the configuration, starts Prometheus on a free 127.0.0.1 port and waits for /-/ready
  //! (trying another port if the chosen one was taken meanwhile). Fails the test, with the server's
  //! log, if the binary is missing, the configuration or a rule file is rejected, or the server is
  //! not ready within options.ready_timeout.
  static std::unique_ptr<PrometheusEnv> Start(const PrometheusOptions& options);

  PrometheusEnv(const PrometheusEnv&) = delete;
  PrometheusEnv& operator=(const PrometheusEnv&) = delete;
  //! Stops the server and removes its temporary directory.
  ~PrometheusEnv();

  //! The port the server listens on (127.0.0.1).
  uint16_t port() const { return port_; }
  //! "http://127.0.0.1:<port>".
  std::string url() const;
  //! The temporary directory: prometheus.yml, the rule copies, data/ and prometheus.log.
  const std::string& dir() const { return dir_; }
  //! The server's log so far (stdout and stderr).
  std::string Log() const;

  //! GET `target` (e.g. "/api/v1/alerts"). Never fails the test: no response gives status 0.
  PrometheusReply Get(const std::string& target) const;
  //! The pending and firing alerts (/api/v1/alerts). Fails the test unless the call succeeds.
  std::vector<PrometheusAlert> Alerts() const;
  //! Evaluates `promql` at the current time (/api/v1/query). Fails the test unless the query
  //! succeeds with a vector or scalar result.
  std::vector<PrometheusSample> Query(const std::string& promql) const;
  //! Every loaded rule with its health and last evaluation (/api/v1/rules). Fails the test unless
  //! the call succeeds.
  std::vector<PrometheusRule> Rules() const;

 private:
  PrometheusEnv(std::string dir, uint16_t port, std::unique_ptr<Child> child);

  //! The temporary directory, removed by the destructor.
  std::string dir_;
  //! The loopback port the server listens on.
  uint16_t port_ = 0;
  //! The prometheus process.
  std::unique_ptr<Child> child_;
};

}  // namespace vigil::testing
