// Two `vigil run` processes of one pipeline given the same --instance-id: the newer one takes the
// transactional id and the group instance id over, and the older one exits once, with one line that
// says why and the exit code kExitFenced, instead of failing and fencing the other in turn.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "app/commands.h"
#include "tests/support/kafka_env.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

std::string WriteConfig(const std::string& dir, const std::string& in, const std::string& out) {
  const std::string path = dir + "/pipeline.yaml";
  std::ofstream f(path);
  f << "name: fencing\n"
    << "source: {kind: kafka, topic: " << in << ", group: g-" << in << "}\n"
    << "kafka: {bootstrap: '" << Bootstrap() << "'}\n"
    << "schema:\n  event_time: T\n  fields:\n"
    << "    - {name: ID, type: int64}\n    - {name: T, type: timestamp}\n"
    << "output: {kind: kafka, topic: " << out << "}\n"
    << "runtime: {workers: 1, commit_interval: 200ms}\n"
    << "http: {enabled: false}\n";
  return path;
}

//! Waits until `log` contains `text` or `child` exits; true when the text appeared.
bool WaitForLog(const std::string& log, const std::string& text, Child& child) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(log).find(text) != std::string::npos) return true;
    if (child.Wait(std::chrono::milliseconds(100)) != -1) return false;
  }
  return false;
}

//! The lines of `log` that start with `prefix`.
std::vector<std::string> LinesStartingWith(const std::string& log, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) lines.push_back(line);
  return lines;
}

TEST_CASE("two instances with one --instance-id: the older exits fenced, once, with one line and code 3",
          "[integration]") {
  const std::string dir = TempDir("vigil-fencing");
  const std::string in = UniqueTopic("tx"), out = UniqueTopic("out");
  CreateTopic(in, 1);
  CreateTopic(out, 1);
  Produce(in, {{std::nullopt, R"({"ID":1,"T":1522540800000})"}});
  const std::string config = WriteConfig(dir, in, out);
  const std::string first_log = dir + "/first.log", second_log = dir + "/second.log";
  Child first({VigilBinary(), "run", config, "--instance-id", "twin", "--state-dir", dir + "/a"}, first_log);
  REQUIRE(WaitForLog(first_log, "partition 0 assigned", first));
  Child second({VigilBinary(), "run", config, "--instance-id", "twin", "--state-dir", dir + "/b"},
               second_log);

  // Whichever goes (the older, by the protocol), it goes by itself; the other keeps running.
  int first_rc = -1, second_rc = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (first_rc == -1 && second_rc == -1 && std::chrono::steady_clock::now() < deadline) {
    first_rc = first.Wait(std::chrono::milliseconds(100));
    if (first_rc == -1) second_rc = second.Wait(std::chrono::milliseconds(100));
  }
  INFO("first:\n" << ReadFile(first_log) << "\nsecond:\n" << ReadFile(second_log));
  REQUIRE((first_rc != -1 || second_rc != -1));
  const bool first_went = first_rc != -1;
  const int fenced_rc = first_went ? first_rc : second_rc;
  const std::string fenced_log = ReadFile(first_went ? first_log : second_log);
  CHECK(fenced_rc == app::kExitFenced);
  const auto fenced = LinesStartingWith(fenced_log, "fenced: ");
  REQUIRE(fenced.size() == 1);
  CHECK(fenced[0].find("another instance with ") != std::string::npos);
  CHECK(fenced[0].find("'g-" + in + ".twin' took over") != std::string::npos);
  CHECK(fenced[0].ends_with("; give each instance its own --instance-id"));

  // The survivor is not fenced in turn: it still runs, and stops cleanly when asked.
  Child& survivor = first_went ? second : first;
  CHECK(survivor.Wait(std::chrono::seconds(3)) == -1);
  survivor.Signal(SIGTERM);
  CHECK(survivor.Wait(std::chrono::seconds(120)) == 0);
}

}  // namespace
}  // namespace vigil::testing
