#include "tests/support/prometheus_env.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <simdjson.h>
#include <sstream>
#include <thread>

namespace vigil::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::chrono::milliseconds kHttpTimeout{10'000};
constexpr std::chrono::milliseconds kStopTimeout{10'000};
constexpr int kStartAttempts = 3;

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

//! One GET on 127.0.0.1:port; async under the hood so that kHttpTimeout bounds the whole exchange.
PrometheusReply HttpGet(uint16_t port, const std::string& target) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(kHttpTimeout);
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code result;
  stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
    if (ec) {
      result = ec;
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        result = ec;
        return;
      }
      http::async_read(stream, buffer, response, [&](beast::error_code ec, std::size_t) { result = ec; });
    });
  });
  ioc.run();
  if (result) return {0, "GET " + target + ": " + result.message()};
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return {static_cast<int>(response.result_int()), std::move(response.body())};
}

//! A port nobody listened on a moment ago. Another process may take it before Prometheus binds it;
//! Start() then tries again.
uint16_t FreeLoopbackPort() {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Duration(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

//! YAML double-quoted string (paths, targets and names are plain text here).
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ConfigText(const PrometheusOptions& options, const std::vector<std::string>& rule_files) {
  std::ostringstream out;
  out << "global:\n"
      << "  scrape_interval: " << Duration(options.scrape_interval) << "\n"
      << "  scrape_timeout: " << Duration(options.scrape_interval) << "\n"
      << "  evaluation_interval: " << Duration(options.evaluation_interval) << "\n"
      << "rule_files:\n";
  for (const auto& file : rule_files) out << "  - " << Quoted(file) << "\n";
  out << "scrape_configs:\n"
      << "  - job_name: " << Quoted(options.job) << "\n"
      << "    metrics_path: " << Quoted(options.metrics_path) << "\n"
      << "    static_configs:\n"
      << "      - targets:\n";
  for (const auto& target : options.targets) out << "          - " << Quoted(target) << "\n";
  if (options.targets.empty()) out << "          []\n";
  return out.str();
}

std::string PrometheusBinary(const PrometheusOptions& options) {
  if (!options.binary.empty()) return options.binary;
  if (const char* env = std::getenv("VIGIL_TEST_PROMETHEUS"); env && *env) return env;
  return "/usr/bin/prometheus";
}

//! Parses a Prometheus API reply and returns its "data" member; fails the test unless the reply is a
//! 200 with "status":"success". `parser` owns the returned element.
simdjson::dom::element ApiData(simdjson::dom::parser& parser, const PrometheusReply& reply,
                               const std::string& what) {
  INFO(what << " -> " << reply.status << ": " << reply.body);
  REQUIRE(reply.status == 200);
  simdjson::dom::element doc;
  REQUIRE(parser.parse(reply.body).get(doc) == simdjson::SUCCESS);
  std::string_view status;
  REQUIRE(doc["status"].get(status) == simdjson::SUCCESS);
  REQUIRE(status == "success");
  simdjson::dom::element data;
  REQUIRE(doc["data"].get(data) == simdjson::SUCCESS);
  return data;
}

using JsonResult = simdjson::simdjson_result<simdjson::dom::element>;

//! A JSON object of strings (labels, annotations) as a map; other members are skipped, and a missing
//! object gives an empty map.
std::map<std::string, std::string> StringMap(JsonResult element) {
  std::map<std::string, std::string> out;
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return out;
  for (const auto field : object) {
    std::string_view value;
    if (field.value.get(value) == simdjson::SUCCESS) out.emplace(field.key, value);
  }
  return out;
}

std::string StringField(simdjson::dom::element element, std::string_view key) {
  std::string_view value;
  return element[key].get(value) == simdjson::SUCCESS ? std::string(value) : std::string();
}

//! Prometheus sends sample values as strings ("0.6", "NaN", "+Inf"); strtod reads all of them.
double SampleValue(JsonResult pair) {
  std::string_view text;
  REQUIRE(pair.at(1).get_string().get(text) == simdjson::SUCCESS);
  return std::strtod(std::string(text).c_str(), nullptr);
}

//! Starts one prometheus process on `port`; returns it once /-/ready answers 200, or nullptr if the
//! process exited (its log tells why) or the deadline passed.
std::unique_ptr<Child> StartOnce(const std::string& binary, const std::string& dir, uint16_t port,
                                 std::chrono::steady_clock::time_point deadline) {
  auto child = std::make_unique<Child>(
      std::vector<std::string>{binary, "--config.file=" + dir + "/prometheus.yml",
                               "--storage.tsdb.path=" + dir + "/data",
                               "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir + "/prometheus.log");
  while (std::chrono::steady_clock::now() < deadline) {
    if (child->Wait(std::chrono::milliseconds(0)) != -1) return nullptr;
    if (HttpGet(port, "/-/ready").status == 200) return child;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

}  // namespace

std::string PrometheusAlert::name() const {
  const auto it = labels.find("alertname");
  return it == labels.end() ? std::string() : it->second;
}

std::string ShippedRulesPath() { return std::string(VIGIL_SOURCE_DIR) + "/deploy/prometheus/vigil-rules.yml"; }

int CopyRulesWithFor(const std::string& from, const std::string& to, std::string_view for_duration) {
  std::ifstream in(from, std::ios::binary);
  INFO("rules file " << from);
  REQUIRE(in.good());
  std::ostringstream out;
  int replaced = 0;
  std::string line;
  while (std::getline(in, line)) {
    const size_t indent = line.find_first_not_of(' ');
    if (indent != std::string::npos && line.compare(indent, 4, "for:") == 0) {
      line = line.substr(0, indent) + "for: " + std::string(for_duration);
      ++replaced;
    }
    out << line << (in.eof() ? "" : "\n");
  }
  std::ofstream file(to, std::ios::binary | std::ios::trunc);
  file << out.str();
  file.close();
  INFO("writing " << to);
  REQUIRE(file.good());
  return replaced;
}

PrometheusEnv::PrometheusEnv(std::string dir, uint16_t port, std::unique_ptr<Child> child)
    : dir_(std::move(dir)), port_(port), child_(std::move(child)) {}

std::unique_ptr<PrometheusEnv> PrometheusEnv::Start(const PrometheusOptions& options) {
  REQUIRE(options.scrape_interval.count() > 0);
  REQUIRE(options.evaluation_interval.count() > 0);
  const std::string binary = PrometheusBinary(options);
  INFO("the Prometheus binary " << binary << " must be executable: install Debian's `prometheus` "
                                << "package (scripts/setup does) or set VIGIL_TEST_PROMETHEUS");
  REQUIRE(access(binary.c_str(), X_OK) == 0);
  const std::string dir = TempDir("vigil-prometheus");
  REQUIRE(!dir.empty());
  std::vector<std::string> rule_files;
  for (size_t i = 0; i < options.rule_files.size(); ++i) {
    if (options.rules_for.empty()) {
      rule_files.push_back(options.rule_files[i]);
      continue;
    }
    rule_files.push_back(dir + "/rules-" + std::to_string(i) + ".yml");
    CopyRulesWithFor(options.rule_files[i], rule_files.back(), options.rules_for);
  }
  std::ofstream(dir + "/prometheus.yml") << ConfigText(options, rule_files);
  const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    const uint16_t port = FreeLoopbackPort();
    if (auto child = StartOnce(binary, dir, port, deadline)) {
      return std::unique_ptr<PrometheusEnv>(new PrometheusEnv(dir, port, std::move(child)));
    }
    if (ReadFile(dir + "/prometheus.log").find("address already in use") == std::string::npos) break;
  }
  const std::string log = ReadFile(dir + "/prometheus.log");
  std::filesystem::remove_all(dir);
  FAIL("prometheus did not become ready; its configuration:\n"
       << ConfigText(options, rule_files) << "its log:\n"
       << log);
  return nullptr;
}

PrometheusEnv::~PrometheusEnv() {
  child_->Signal(SIGTERM);
  if (child_->Wait(kStopTimeout) == -1) child_->Signal(SIGKILL);
  child_.reset();  // reaps a killed process
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PrometheusEnv::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string PrometheusEnv::Log() const { return ReadFile(dir_ + "/prometheus.log"); }

PrometheusReply PrometheusEnv::Get(const std::string& target) const { return HttpGet(port_, target); }

std::vector<PrometheusAlert> PrometheusEnv::Alerts() const {
  simdjson::dom::parser parser;
  const simdjson::dom::element data = ApiData(parser, Get("/api/v1/alerts"), "GET /api/v1/alerts");
  simdjson::dom::array alerts;
  REQUIRE(data["alerts"].get(alerts) == simdjson::SUCCESS);
  std::vector<PrometheusAlert> out;
  for (const simdjson::dom::element alert : alerts) {
    out.push_back({StringMap(alert["labels"]), StringMap(alert["annotations"]), StringField(alert, "state"),
                   StringField(alert, "value")});
  }
  return out;
}

std::vector<PrometheusSample> PrometheusEnv::Query(const std::string& promql) const {
  simdjson::dom::parser parser;
  const simdjson::dom::element data =
      ApiData(parser, Get("/api/v1/query?query=" + PercentEncode(promql)), "query " + promql);
  const std::string type = StringField(data, "resultType");
  std::vector<PrometheusSample> out;
  if (type == "scalar") {
    out.push_back({{}, SampleValue(data["result"])});
    return out;
  }
  INFO("query " << promql << " gave a " << type);
  REQUIRE(type == "vector");
  simdjson::dom::array result;
  REQUIRE(data["result"].get(result) == simdjson::SUCCESS);
  for (const simdjson::dom::element sample : result) {
    out.push_back({StringMap(sample["metric"]), SampleValue(sample["value"])});
  }
  return out;
}

std::vector<PrometheusRule> PrometheusEnv::Rules() const {
  simdjson::dom::parser parser;
  const simdjson::dom::element data = ApiData(parser, Get("/api/v1/rules"), "GET /api/v1/rules");
  simdjson::dom::array groups;
  REQUIRE(data["groups"].get(groups) == simdjson::SUCCESS);
  std::vector<PrometheusRule> out;
  for (const simdjson::dom::element group : groups) {
    simdjson::dom::array rules;
    REQUIRE(group["rules"].get(rules) == simdjson::SUCCESS);
    for (const simdjson::dom::element rule : rules) {
      double for_seconds = 0;
      if (rule["duration"].get_double().get(for_seconds) != simdjson::SUCCESS) for_seconds = 0;
      out.push_back({StringField(group, "name"), StringField(rule, "name"), StringField(rule, "type"),
                     StringField(rule, "health"), StringField(rule, "lastError"),
                     StringField(rule, "lastEvaluation"), StringField(rule, "state"), for_seconds});
    }
  }
  return out;
}

}  // namespace vigil::testing
