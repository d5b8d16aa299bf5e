#include "tests/support/handbook_stream.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "tests/support/handbook.h"
#include "tests/support/kafka_env.h"

namespace vigil::testing {

int64_t JsonInt(const std::string& line, const std::string& field) {
  const std::string needle = "\"" + field + "\":";
  const size_t at = line.find(needle);
  return at == std::string::npos ? -1 : std::strtoll(line.c_str() + at + needle.size(), nullptr, 10);
}

void WriteChunkFiles(const std::string& dir, const std::vector<std::string>& lines, int chunks) {
  std::filesystem::create_directories(dir + "/chunks");
  const size_t per_chunk = (lines.size() + static_cast<size_t>(chunks) - 1) / static_cast<size_t>(chunks);
  for (size_t first = 0, n = 0; first < lines.size(); first += per_chunk, ++n) {
    char name[64];
    std::snprintf(name, sizeof name, "/chunks/chunk-%05zu.tsv", n);
    std::ofstream out(dir + name);
    for (size_t i = first; i < std::min(lines.size(), first + per_chunk); ++i)
      out << JsonInt(lines[i], "CUSTOMER_ID") << '\t' << lines[i] << '\n';
  }
}

namespace {

//! kcat producing the "key<TAB>value" lines of `file` to partition 0 of `topic`, idempotently (a
//! retry across a broker restart must not duplicate an input event).
std::string KcatProduce(const std::string& topic, const std::string& file) {
  return "kcat -P -b " + Bootstrap() + " -t " + topic +
         " -p 0 -K '\\t' -z lz4 -X enable.idempotence=true -l " + file;
}

}  // namespace

std::unique_ptr<HandbookStream> HandbookStream::Make(const std::string& dir,
                                                     const HandbookStreamOptions& options) {
  std::unique_ptr<HandbookStream> s(new HandbookStream(dir, options));
  s->state_dir_ = dir + "/state";
  s->pipeline_ = dir + "/pipeline.yaml";
  s->group_ = UniqueTopic("vigil-crash");
  s->tx_topic_ = UniqueTopic("tx");
  s->labels_topic_ = UniqueTopic("labels");
  s->decisions_topic_ = UniqueTopic("decisions");
  s->dead_letter_topic_ = UniqueTopic("dlq");
  for (const auto& t : {s->tx_topic_, s->labels_topic_, s->decisions_topic_, s->dead_letter_topic_})
    CreateTopic(t, 1);

  const std::string sim = VigilBinary() + " simulate --quiet --customers " +
                          std::to_string(options.customers) + " --terminals " +
                          std::to_string(options.terminals) + " --days " + std::to_string(options.days) +
                          " --seed " + std::to_string(options.seed);
  REQUIRE(Shell(sim + " --out " + dir + "/tx.jsonl --labels-out " + dir + "/labels.jsonl") == 0);

  // Chunk files of "CUSTOMER_ID<TAB>json" (the transactions' key, as `vigil simulate --kafka` sets it).
  std::filesystem::create_directories(dir + "/chunks");
  std::vector<std::string> lines;
  std::unordered_map<int64_t, int64_t> customer_of;
  {
    std::ifstream in(dir + "/tx.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      customer_of[JsonInt(line, "TRANSACTION_ID")] = JsonInt(line, "CUSTOMER_ID");
      lines.push_back(std::move(line));
    }
  }
  s->transactions_ = lines.size();
  REQUIRE(s->transactions_ > 0);
  WriteChunkFiles(dir, lines, options.chunks);
  {
    std::ifstream in(dir + "/labels.jsonl");
    std::ofstream out(dir + "/labels.tsv");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out << customer_of[JsonInt(line, "TRANSACTION_ID")] << '\t' << line << '\n';
  }
  REQUIRE(Shell(KcatProduce(s->labels_topic_, dir + "/labels.tsv")) == 0);

  std::string yaml =
      HandbookYaml({s->tx_topic_, s->labels_topic_, s->decisions_topic_, s->dead_letter_topic_});
  SetGroup(&yaml, s->group_);
  // Static group membership under the instance id: a restarted incarnation takes its partition over
  // at once instead of after the killed one's session timeout (45 s), so kills land mid-stream.
  const std::string kafka = "kafka: {bootstrap: '" + Bootstrap() + "'";
  REQUIRE(yaml.find(kafka + "}") != std::string::npos);
  ReplaceAll(&yaml, kafka + "}", kafka + ", consumer: {group.instance.id: " + options.instance_id + "}}");
  ReplaceRuntime(&yaml, "runtime: {workers: 2, commit_interval: " + options.commit_interval +
                            ", state_dir: " + s->state_dir_ + ", guarantee: " + options.guarantee +
                            "}\nhttp: {enabled: false}");
  std::ofstream(s->pipeline_) << yaml;
  return s;
}

HandbookStream::~HandbookStream() = default;

void HandbookStream::StartProducer() {
  const double pause_s = static_cast<double>(options_.chunk_pause.count()) / 1000.0;
  // Between chunks the script waits while DIR/pause exists, saying so with DIR/paused.
  const std::string script = "set -e; for f in " + dir_ + "/chunks/chunk-*.tsv; do while [ -e " + dir_ +
                             "/pause ]; do touch " + dir_ + "/paused; sleep 0.05; done; rm -f " + dir_ +
                             "/paused; " + KcatProduce(tx_topic_, "\"$f\"") + "; sleep " +
                             std::to_string(pause_s) + "; done";
  producer_ =
      std::make_unique<Child>(std::vector<std::string>{"/bin/sh", "-c", script}, dir_ + "/producer.log");
}

void HandbookStream::PauseProducer() {
  std::ofstream(dir_ + "/pause").flush();
  while (ProducerRunning() && !std::filesystem::exists(dir_ + "/paused"))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void HandbookStream::ResumeProducer() { std::filesystem::remove(dir_ + "/pause"); }

bool HandbookStream::ProducerRunning() {
  if (!producer_ || producer_rc_ >= 0) return false;
  producer_rc_ = producer_->Wait(std::chrono::milliseconds(0));
  return producer_rc_ < 0;
}

void HandbookStream::WaitProducer(std::chrono::milliseconds timeout) {
  REQUIRE(producer_);
  if (producer_rc_ < 0) producer_rc_ = producer_->Wait(timeout);
  INFO(ReadFile(dir_ + "/producer.log"));
  REQUIRE(producer_rc_ == 0);
}

std::unique_ptr<Child> HandbookStream::StartVigil() {
  char log[64];
  std::snprintf(log, sizeof log, "/run-%02d.log", ++incarnations_);
  return std::make_unique<Child>(
      std::vector<std::string>{VigilBinary(), "run", pipeline_, "--instance-id", options_.instance_id},
      dir_ + log);
}

bool HandbookStream::Assigned() const {
  return LastLog(std::string::npos).find(" assigned; state checkpoint") != std::string::npos;
}

bool HandbookStream::WaitAssigned(Child& vigil, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!Assigned()) {
    if (std::chrono::steady_clock::now() > deadline || vigil.Wait(std::chrono::milliseconds(0)) != -1)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::string HandbookStream::LastLog(size_t max_chars) const {
  char log[64];
  std::snprintf(log, sizeof log, "/run-%02d.log", incarnations_);
  const std::string text = ReadFile(dir_ + log);
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

int64_t HandbookStream::Committed() const { return CommittedOffset(group_, tx_topic_, 0); }

bool HandbookStream::WaitAllCommitted(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Committed() < static_cast<int64_t>(transactions_)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

void StreamVerdict::PrintExamples(const char* prefix) const {
  for (const auto* examples : {&decisions.examples, &last_per_customer.examples, &last_per_terminal.examples})
    for (const std::string& line : *examples) std::printf("%s%s\n", prefix, line.c_str());
  std::fflush(stdout);
}

StreamVerdict HandbookStream::Verify() const {
  StreamVerdict v;
  // Generous: a million records take a few seconds to read.
  const auto read_timeout = std::chrono::seconds(60 + transactions_ / 5000);
  const auto decisions = ConsumeAll(decisions_topic_, 0, read_timeout);
  v.dead_letters = ConsumeAll(dead_letter_topic_, 0, std::chrono::seconds(30)).size();
  const ReplayTable table = ReplayFiles(dir_, pipeline_, dir_ + "/tx.jsonl", dir_ + "/labels.jsonl");
  v.transactions = table.rows.size();
  v.decisions = CompareWithReplay(decisions, table);
  v.last_per_customer = CompareFinalState(decisions, table, "CUSTOMER_ID");
  v.last_per_terminal = CompareFinalState(decisions, table, "TERMINAL_ID");
  return v;
}

}  // namespace vigil::testing
