// End to end against the real broker: kcat produces, the real `vigil` binary runs, a test consumer
// reads the outputs back. Covers in = out + dead letters, exact windows, and graceful restart.
#include <signal.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "base/time.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr int64_t kDayMs = base::kMsPerDay;

struct Tx {
  int64_t id, time_ms, customer;
  double amount;
};

std::vector<Tx> MakeTransactions(size_t n, int customers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Tx> txs;
  int64_t t = 1'522'540'800'000;  // 2018-04-01
  for (size_t i = 0; i < n; ++i) {
    t += static_cast<int64_t>(rng() % 60'000);  // equal timestamps happen too
    const double cents = static_cast<double>(rng() % 30'000 + 1);
    txs.push_back({static_cast<int64_t>(i), t, static_cast<int64_t>(rng() % customers), cents / 100.0});
  }
  return txs;
}

std::string ToJson(const Tx& tx) {
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      R"({"TRANSACTION_ID":%lld,"TX_TIME_MS":%lld,"CUSTOMER_ID":%lld,"TERMINAL_ID":%lld,"TX_AMOUNT":%.2f})",
      static_cast<long long>(tx.id), static_cast<long long>(tx.time_ms), static_cast<long long>(tx.customer),
      static_cast<long long>(tx.id % 977), tx.amount);
  return buf;
}

//! Produces `txs` with kcat, keyed by customer, from a "key<TAB>json" file.
void ProduceWithKcat(const std::string& dir, const std::string& topic, const std::vector<Tx>& txs) {
  const std::string path = dir + "/tx.tsv";
  std::ofstream out(path);
  for (const Tx& tx : txs) out << tx.customer << '\t' << ToJson(tx) << '\n';
  out.close();
  const std::string cmd = "kcat -P -b " + Bootstrap() + " -t " + topic +
                          " -K '\t' -z lz4 -X linger.ms=20 -X partitioner=murmur2_random -l " + path;
  REQUIRE(Shell(cmd) == 0);
}

struct Expected {
  double count[3];
  double avg[3];
};

//! A plain reference: for each transaction, the customer's earlier-or-same transactions in (t − N, t].
std::map<int64_t, Expected> Reference(const std::vector<Tx>& txs) {
  std::map<int64_t, std::vector<const Tx*>> by_customer;
  std::map<int64_t, Expected> expected;
  const int64_t windows[3] = {kDayMs, 7 * kDayMs, 30 * kDayMs};
  for (const Tx& tx : txs) {
    auto& history = by_customer[tx.customer];
    history.push_back(&tx);
    Expected e{};
    for (int w = 0; w < 3; ++w) {
      double n = 0, sum = 0;
      for (const Tx* h : history) {
        if (h->time_ms > tx.time_ms - windows[w] && h->time_ms <= tx.time_ms) {
          n += 1;
          sum += h->amount;
        }
      }
      e.count[w] = n;
      e.avg[w] = sum / n;
    }
    expected[tx.id] = e;
  }
  return expected;
}

std::string WriteConfig(const std::string& dir, const std::string& in, const std::string& out,
                        const std::string& dlq, int max_events) {
  const std::string path = dir + "/pipeline.yaml";
  std::ofstream f(path);
  f << "name: itest\n"
    << "source: {kind: kafka, topic: " << in << ", group: g-" << in << "}\n"
    << "kafka: {bootstrap: '" << Bootstrap() << "'}\n"
    << "schema:\n  event_time: TX_TIME_MS\n  key: CUSTOMER_ID\n  max_event_bytes: 65536\n  fields:\n"
    << "    - {name: TRANSACTION_ID, type: int64}\n    - {name: TX_TIME_MS, type: timestamp}\n"
    << "    - {name: CUSTOMER_ID, type: int64}\n    - {name: TERMINAL_ID, type: int64}\n"
    << "    - {name: TX_AMOUNT, type: double, min: 0}\n"
    << "operators:\n  - type: window\n    key: CUSTOMER_ID\n    lateness: 1h\n    outputs:\n";
  const char* names[3] = {"1", "7", "30"};
  for (const char* n : names) {
    f << "      - {name: NB_" << n << ", agg: count, window: " << n << "d}\n";
    f << "      - {name: AVG_" << n << ", agg: avg, field: TX_AMOUNT, window: " << n << "d}\n";
  }
  f << "output: {kind: kafka, topic: " << out
    << ", fields: [TRANSACTION_ID, CUSTOMER_ID, NB_1, NB_7, NB_30, AVG_1, AVG_7, AVG_30]}\n"
    << "dead_letter: {kind: kafka, topic: " << dlq << "}\n"
    << "batch: {max_events: " << max_events << ", max_wait: 10ms}\n"
    << "runtime: {workers: 2, state_dir: " << dir << "/state, commit_interval: 200ms}\n"
    << "http: {enabled: false}\n";
  return path;
}

//! Checks every output record against the reference; returns the number of distinct transactions.
size_t CheckOutputs(const std::vector<Message>& records, const std::map<int64_t, Expected>& expected) {
  simdjson::dom::parser parser;
  std::set<int64_t> seen;
  size_t mismatches = 0;
  for (const Message& m : records) {
    simdjson::dom::element doc = parser.parse(m.value);
    const int64_t id = doc["TRANSACTION_ID"].get_int64();
    seen.insert(id);
    const Expected& e = expected.at(id);
    const char* names[3] = {"1", "7", "30"};
    for (int w = 0; w < 3; ++w) {
      const double n = doc[std::string("NB_") + names[w]].get_double();
      const double avg = doc[std::string("AVG_") + names[w]].get_double();
      if (n != e.count[w] || std::abs(avg - e.avg[w]) > 1e-12 * std::abs(e.avg[w])) {
        if (++mismatches <= 5)
          UNSCOPED_INFO("tx " << id << " window " << names[w] << ": got " << n << "/" << avg << " want "
                              << e.count[w] << "/" << e.avg[w]);
      }
    }
  }
  CHECK(mismatches == 0);
  return seen.size();
}

TEST_CASE("kcat in, vigil run, exact windows out and malformed events go to the DLQ with reasons",
          "[integration]") {
  const std::string dir = TempDir("vigil-e2e");
  const std::string in = UniqueTopic("tx"), out = UniqueTopic("features"), dlq = UniqueTopic("dlq");
  CreateTopic(in, 4);
  CreateTopic(out, 4);
  CreateTopic(dlq, 1);
  const auto txs = MakeTransactions(100'000, 2'000, 42);
  ProduceWithKcat(dir, in, txs);

  // Malformed events, each its own file so kcat sends it as one message.
  const std::map<std::string, std::string> bad = {
      {"truncated", R"({"TRANSACTION_ID": 1, "TX_TIME_MS": 15225)"},
      {"wrong_type",
       R"({"TRANSACTION_ID":"abc","TX_TIME_MS":1522540800000,"CUSTOMER_ID":1,"TERMINAL_ID":1,"TX_AMOUNT":1.0})"},
      {"missing", R"({"TRANSACTION_ID":7,"TX_TIME_MS":1522540800000,"TERMINAL_ID":1,"TX_AMOUNT":1.0})"},
      {"utf8",
       "{\"TRANSACTION_ID\":8,\"TX_TIME_MS\":1522540800000,\"CUSTOMER_ID\":1,\"TERMINAL_ID\":1,\"TX_AMOUNT\":"
       "1.0,\"NOTE\":\"\xff\xfe\"}"},
      {"large", "{\"TRANSACTION_ID\":9,\"PAD\":\"" + std::string(900'000, 'x') + "\"}"},
      // A card reader whose clock says 2100: dead-lettered before its customer's window sees it.
      {"future",
       R"({"TRANSACTION_ID":10,"TX_TIME_MS":4102444800000,"CUSTOMER_ID":1,"TERMINAL_ID":1,"TX_AMOUNT":1.0})"}};
  std::string files;
  for (const auto& [name, body] : bad) {
    std::ofstream(dir + "/" + name + ".bin", std::ios::binary) << body;
    files += " " + dir + "/" + name + ".bin";
  }
  REQUIRE(Shell("kcat -P -b " + Bootstrap() + " -t " + in + " -p 0" + files) == 0);

  const std::string config = WriteConfig(dir, in, out, dlq, 1000);
  Child vigil({VigilBinary(), "run", config, "--idle-exit", "4s", "--json-summary"}, dir + "/vigil.log");
  const int rc = vigil.Wait(std::chrono::seconds(180));
  INFO(ReadFile(dir + "/vigil.log"));
  REQUIRE(rc == 0);
  const std::string log = ReadFile(dir + "/vigil.log");
  CHECK(log.find(R"({"events_in":100006,"events_out":100000,"dead_letters":6,)") != std::string::npos);

  const auto outputs = ConsumeAll(out, 100'000, std::chrono::seconds(60));
  REQUIRE(outputs.size() == 100'000);
  CHECK(CheckOutputs(outputs, Reference(txs)) == 100'000);

  const auto dead = ConsumeAll(dlq, 6, std::chrono::seconds(30));
  REQUIRE(dead.size() == 6);
  std::multiset<std::string> reasons;
  for (const Message& m : dead) {
    std::map<std::string, std::string> h(m.headers.begin(), m.headers.end());
    reasons.insert(h["vigil.reason"]);
    CHECK(h["vigil.source.topic"] == in);
    CHECK(h["vigil.source.partition"] == "0");
    CHECK(m.value.size() > 0);
  }
  CHECK(reasons == std::multiset<std::string>{"future", "invalid_json", "invalid_utf8", "missing_field",
                                              "too_large", "wrong_type"});
  // The dead letter keeps the original bytes.
  for (const Message& m : dead) {
    std::map<std::string, std::string> h(m.headers.begin(), m.headers.end());
    if (h["vigil.reason"] == "too_large") CHECK(m.value == bad.at("large"));
    if (h["vigil.reason"] == "invalid_utf8") CHECK(m.value == bad.at("utf8"));
    if (h["vigil.reason"] == "future") CHECK(h["vigil.field"] == "TX_TIME_MS");
  }
}

TEST_CASE("SIGTERM mid-stream, then restart: resumes from committed offsets with exact windows",
          "[integration]") {
  const std::string dir = TempDir("vigil-restart");
  const std::string in = UniqueTopic("tx"), out = UniqueTopic("features"), dlq = UniqueTopic("dlq");
  CreateTopic(in, 4);
  CreateTopic(out, 4);
  CreateTopic(dlq, 1);
  const auto txs = MakeTransactions(100'000, 2'000, 7);
  const std::string config = WriteConfig(dir, in, out, dlq, 200);
  {
    // The stream keeps flowing (20 chunks, ~150 ms apart) while the first run is stopped.
    Child first({VigilBinary(), "run", config, "--json-summary"}, dir + "/first.log");
    for (size_t chunk = 0; chunk < 20; ++chunk) {
      std::vector<Tx> part(txs.begin() + static_cast<std::ptrdiff_t>(chunk * 5000),
                           txs.begin() + static_cast<std::ptrdiff_t>((chunk + 1) * 5000));
      ProduceWithKcat(dir, in, part);
      if (chunk == 8) {
        // Stopped once it has written something (its start-up time depends on the machine's load).
        REQUIRE(ConsumeAll(out, 1, std::chrono::seconds(120)).size() == 1);
        first.Signal(SIGTERM);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    INFO(ReadFile(dir + "/first.log"));
    REQUIRE(first.Wait(std::chrono::seconds(60)) == 0);
  }
  const auto partial = ConsumeAll(out, 0, std::chrono::seconds(30));
  INFO("first run wrote " << partial.size());
  CHECK(partial.size() > 0);
  CHECK(partial.size() < 100'000);

  Child second({VigilBinary(), "run", config, "--idle-exit", "4s", "--json-summary"}, dir + "/second.log");
  INFO(ReadFile(dir + "/second.log"));
  REQUIRE(second.Wait(std::chrono::seconds(180)) == 0);
  const auto outputs = ConsumeAll(out, 100'000, std::chrono::seconds(60));
  CHECK(outputs.size() == 100'000);  // graceful stop: nothing re-processed, nothing lost
  CHECK(CheckOutputs(outputs, Reference(txs)) == 100'000);
}

}  // namespace
}  // namespace vigil::testing
