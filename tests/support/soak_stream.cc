#include "tests/support/soak_stream.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/support/handbook_stream.h"

namespace vigil::testing {
namespace {

constexpr int64_t kFiveYearsMs = 5LL * 365 * 24 * 3600 * 1000;

//! `line` with its TX_TIME_MS moved `by_ms` ahead.
std::string Shifted(const std::string& line, int64_t by_ms) {
  const std::string needle = "\"TX_TIME_MS\":";
  const size_t at = line.find(needle) + needle.size();
  const size_t end = line.find_first_not_of("0123456789", at);
  return line.substr(0, at) + std::to_string(JsonInt(line, "TX_TIME_MS") + by_ms) + line.substr(end);
}

//! Writes `chunks` as DIR/NAME/chunk-NNNNN.tsv; returns the paths in order.
std::vector<std::string> WriteChunks(const std::string& dir, const std::string& name,
                                     const std::vector<std::string>& chunks) {
  std::filesystem::create_directories(dir + "/" + name);
  std::vector<std::string> paths;
  for (size_t c = 0; c < chunks.size(); ++c) {
    char file[64];
    std::snprintf(file, sizeof file, "/chunk-%05zu.tsv", c);
    paths.push_back(dir + "/" + name + file);
    std::ofstream(paths.back()) << chunks[c];
  }
  return paths;
}

}  // namespace

int32_t KeyPartition(const std::string& key, int partitions) {
  return rd_kafka_msg_partitioner_murmur2_random(nullptr, key.data(), key.size(), partitions, nullptr,
                                                 nullptr);
}

SoakStream BuildSoakStream(const std::string& dir, const std::string& sim_tx, const std::string& sim_labels,
                           size_t count, const SoakStreamOptions& options) {
  SoakStream s;
  std::vector<std::string> lines;
  {
    std::ifstream in(sim_tx);
    REQUIRE(in);
    for (std::string line; lines.size() < count && std::getline(in, line);)
      if (!line.empty()) lines.push_back(std::move(line));
  }
  s.transactions = lines.size();
  const size_t per = static_cast<size_t>(options.per_second);
  const size_t chunks = (lines.size() + per - 1) / per;
  const size_t garbage_end = options.garbage_first + options.garbage_chunks;
  REQUIRE((options.garbage_chunks == 0 || garbage_end < chunks));
  std::vector<std::string> tx(chunks);
  std::vector<int64_t> latest(chunks, 0);  // the latest (not future-dated) TX_TIME_MS sent by each chunk
  std::mt19937_64 rng(options.seed);
  std::bernoulli_distribution future(options.future_percent / 100.0);
  // A device whose clock runs years ahead dates its transactions years after the real time, whatever
  // time the simulated stream replays: five years after now (the stream's 2018 dates plus five years
  // would still lie in the past, and a stream of real time never carries those).
  const int64_t bad_clock_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count() +
                               kFiveYearsMs;
  std::ofstream replay_tx(dir + "/tx.jsonl");
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const int64_t id = JsonInt(line, "TRANSACTION_ID");
    const std::string customer = std::to_string(JsonInt(line, "CUSTOMER_ID"));
    const int32_t partition = KeyPartition(customer, options.partitions);
    size_t c = i / per;
    if (c >= options.garbage_first && c < garbage_end && partition == options.garbage_partition) {
      // The partition receives garbage instead; its transactions wait for the window's end.
      tx[c] += std::to_string(partition) + "\tgarbage\tgarbage #" + std::to_string(s.garbage++) +
               ": not a JSON document {\n";
      c = garbage_end;
    }
    const bool is_future = future(rng);
    if (is_future) {
      s.future_ids.insert(id);
    } else {
      replay_tx << line << '\n';
      latest[c] = std::max(latest[c], JsonInt(line, "TX_TIME_MS"));
    }
    tx[c] += std::to_string(partition) + "\t" + customer + "\t" +
             (is_future ? Shifted(line, bad_clock_ms - JsonInt(line, "TX_TIME_MS")) : line) + "\n";
    if (s.chunk_of.size() <= static_cast<size_t>(id))
      s.chunk_of.resize(static_cast<size_t>(id) + 1, SIZE_MAX);
    s.chunk_of[static_cast<size_t>(id)] = c;
  }
  replay_tx.close();
  s.records = s.transactions + s.garbage;
  for (size_t c = 1; c < chunks; ++c) latest[c] = std::max(latest[c], latest[c - 1]);
  s.tx_chunks = WriteChunks(dir, "tx-chunks", tx);

  // The labels of the streamed transactions that are not future-dated, in LABEL_TIME_MS order.
  {
    std::ifstream in(sim_labels);
    REQUIRE(in);
    std::ofstream out(dir + "/labels.jsonl");
    for (std::string line; std::getline(in, line);) {
      const int64_t id = line.empty() ? -1 : JsonInt(line, "TRANSACTION_ID");
      if (id >= 0 && static_cast<size_t>(id) < s.chunk_of.size() &&
          s.chunk_of[static_cast<size_t>(id)] != SIZE_MAX && s.future_ids.count(id) == 0)
        out << line << '\n';
    }
  }
  WriteLabelsByTerminal(dir + "/tx.jsonl", dir + "/labels.jsonl", dir + "/labels.tsv");
  std::vector<std::string> labels(chunks);
  std::ifstream in(dir + "/labels.tsv");
  size_t c = 0;
  for (std::string line; std::getline(in, line);) {
    const int64_t due = JsonInt(line, "LABEL_TIME_MS") - options.label_lead_ms;
    while (c + 1 < chunks && latest[c] < due) ++c;
    const std::string terminal = line.substr(0, line.find('\t'));
    labels[c] += std::to_string(KeyPartition(terminal, options.partitions)) + "\t" + line + "\n";
  }
  s.label_chunks = WriteChunks(dir, "label-chunks", labels);
  return s;
}

}  // namespace vigil::testing
