// A hot terminal: one terminal takes two thirds of all transactions, over 20,000 of them inside its
// window's 30 + 7 days and 7 days of lateness (in one record per key, as vigil once stored a window,
// over 1 MB: more than the broker's default message.max.bytes). Exactly-once `vigil run` over the
// Handbook's features runs to the end, every feature equals `vigil replay` on the same input, and no
// changelog record exceeds a piece (64 KiB with its key). The largest record is printed.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"
#include "tests/support/replay_table.h"

namespace vigil::testing {
namespace {

constexpr const char* kHotTerminal = "424242";

//! The simulated transactions with two of every three moved to the hot terminal; writes them to
//! `out` and returns them as messages keyed by customer.
std::vector<Message> HotTransactions(const std::string& in, const std::string& out, size_t* hot) {
  std::ifstream file(in);
  std::ofstream rewritten(out);
  const std::regex terminal("\"TERMINAL_ID\":[0-9]+"), customer("\"CUSTOMER_ID\":([0-9]+)");
  std::vector<Message> messages;
  std::string line;
  for (size_t i = 0; std::getline(file, line); ++i) {
    if (i % 3 != 0) {
      line = std::regex_replace(line, terminal, std::string("\"TERMINAL_ID\":") + kHotTerminal);
      ++*hot;
    }
    rewritten << line << '\n';
    std::smatch m;
    Message msg;
    if (std::regex_search(line, m, customer)) msg.key = m[1];
    msg.value = line;
    messages.push_back(std::move(msg));
  }
  return messages;
}

std::vector<Message> Lines(const std::string& path) {
  std::ifstream file(path);
  std::vector<Message> messages;
  std::string line;
  while (std::getline(file, line)) messages.push_back(Message{"", line});
  return messages;
}

TEST_CASE("a hot key: vigil run keeps its state in pieces and equals vigil replay", "[integration]") {
  const std::string dir = TempDir("vigil-hot");
  const std::string vigil = VigilBinary();
  const std::string tx = UniqueTopic("hot-tx"), labels = UniqueTopic("hot-labels"),
                    out = UniqueTopic("hot-features"), dlq = UniqueTopic("hot-dlq"),
                    group = UniqueTopic("hot-group");
  for (const auto& t : {tx, labels, out, dlq}) CreateTopic(t, 1);
  REQUIRE(Shell(vigil + " simulate --customers 500 --terminals 500 --days 50 --seed 11 --quiet --out " + dir +
                "/sim.jsonl --labels-out " + dir + "/labels.jsonl") == 0);
  size_t hot = 0;
  Produce(tx, HotTransactions(dir + "/sim.jsonl", dir + "/tx.jsonl", &hot));
  Produce(labels, Lines(dir + "/labels.jsonl"));
  INFO("hot terminal transactions: " << hot);
  // 7 doubles (the time, the label slots) per event: 20,000 of them were 1.1 MB in one record.
  REQUIRE(hot >= 20'000);

  std::string yaml = HandbookYaml({tx, labels, out, dlq});
  SetGroup(&yaml, group);
  ReplaceRuntime(&yaml, "runtime: {workers: 2, commit_interval: 1s, guarantee: exactly_once, state_dir: " +
                            dir + "/state}\nhttp: {enabled: false}");
  std::ofstream(dir + "/pipeline.yaml") << yaml;

  Child live({vigil, "run", dir + "/pipeline.yaml", "--idle-exit", "5s"}, dir + "/run.log");
  INFO(ReadFile(dir + "/run.log"));
  REQUIRE(live.Wait(std::chrono::seconds(240)) == 0);
  const ReplayTable table =
      ReplayFiles(dir, dir + "/pipeline.yaml", dir + "/tx.jsonl", dir + "/labels.jsonl");
  REQUIRE(table.rows.size() > 30'000);
  const auto records = ConsumeAll(out, table.rows.size(), std::chrono::seconds(60));
  REQUIRE(records.size() == table.rows.size());
  const ReplayComparison c = CompareWithReplay(records, table);
  CHECK(c.compared == table.rows.size() * (table.columns.size() - 1));
  CHECK(c.missing == 0);
  CHECK(c.mismatches == 0);

  const auto changelog = ConsumeAll(group + "." + tx + ".changelog", 0, std::chrono::seconds(60));
  REQUIRE(!changelog.empty());
  size_t largest = 0, tombstones = 0;
  for (const Message& m : changelog) {
    largest = std::max(largest, (m.key ? m.key->size() : 0) + m.value.size());
    tombstones += m.value.empty() ? 1 : 0;
  }
  std::printf(
      "hot key: %zu transactions of terminal %s; changelog: %zu records, %zu tombstones, largest "
      "record %zu bytes (key and value)\n",
      hot, kHotTerminal, changelog.size(), tombstones, largest);
  CHECK(largest <= 64 * 1024);
  CHECK(tombstones > 0);  // after 44 days, eviction deleted whole pieces of the hot terminal
}

}  // namespace
}  // namespace vigil::testing
