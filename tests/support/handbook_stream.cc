#include "tests/support/handbook_stream.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "tests/support/chunk_producer.h"
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

size_t WriteLabelsByTerminal(const std::string& tx_path, const std::string& labels_path,
                             const std::string& out_path) {
  std::unordered_map<int64_t, int64_t> terminal_of;
  std::ifstream tx(tx_path);
  for (std::string line; std::getline(tx, line);)
    if (!line.empty()) terminal_of[JsonInt(line, "TRANSACTION_ID")] = JsonInt(line, "TERMINAL_ID");
  std::ifstream in(labels_path);
  std::ofstream out(out_path);
  size_t count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    out << terminal_of.at(JsonInt(line, "TRANSACTION_ID")) << '\t' << line << '\n';
    ++count;
  }
  return count;
}

namespace {

//! The chunk files WriteChunkFiles wrote under `dir`, in order.
std::vector<std::string> ChunkFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/chunks"))
    if (entry.path().extension() == ".tsv") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
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
  {
    ChunkProducer labels(s->labels_topic_, {dir + "/labels.tsv"}, std::chrono::milliseconds(0),
                         dir + "/producer.log");
    REQUIRE(labels.Wait(std::chrono::seconds(120)) == "");
  }

  std::string yaml =
      HandbookYaml({s->tx_topic_, s->labels_topic_, s->decisions_topic_, s->dead_letter_topic_});
  SetGroup(&yaml, s->group_);
  // Static group membership under the instance id: a restarted incarnation takes its partition over
  // at once instead of after the killed one's session timeout (45 s), so kills land mid-stream.
  const std::string kafka = "kafka: {bootstrap: '" + Bootstrap() + "'";
  REQUIRE(yaml.find(kafka + "}") != std::string::npos);
  const std::string more = options.consumer_settings.empty() ? "" : ", " + options.consumer_settings;
  ReplaceAll(&yaml, kafka + "}",
             kafka + ", consumer: {group.instance.id: " + options.instance_id + more + "}}");
  ReplaceRuntime(&yaml, "runtime: {workers: 2, commit_interval: " + options.commit_interval +
                            ", state_dir: " + s->state_dir_ + ", guarantee: " + options.guarantee +
                            "}\nhttp: {enabled: false}");
  std::ofstream(s->pipeline_) << yaml;
  return s;
}

HandbookStream::~HandbookStream() = default;

void HandbookStream::StartProducer() {
  producer_ = std::make_unique<ChunkProducer>(tx_topic_, ChunkFiles(dir_), options_.chunk_pause,
                                              dir_ + "/producer.log");
}

void HandbookStream::PauseProducer() { producer_->Pause(); }

void HandbookStream::ResumeProducer() { producer_->Resume(); }

bool HandbookStream::ProducerRunning() { return producer_ && producer_->Running(); }

void HandbookStream::WaitProducer(std::chrono::milliseconds timeout) {
  REQUIRE(producer_);
  const std::string error = producer_->Wait(timeout);
  INFO(ReadFile(dir_ + "/producer.log"));
  REQUIRE(error == "");
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
