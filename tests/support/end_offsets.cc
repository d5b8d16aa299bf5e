#include "tests/support/end_offsets.h"

#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>

#include "tests/support/kafka_env.h"

namespace vigil::testing {
namespace {

constexpr int kQueryTimeoutMs = 5000;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

//! A consumer with `isolation`; librdkafka answers watermark queries with that isolation level, so
//! read_committed gives the last stable offset.
KafkaPtr Consumer(const std::string& isolation) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [name, value] : {std::pair<std::string, std::string>{"bootstrap.servers", Bootstrap()},
                                    {"group.id", UniqueTopic("vigil-end-offsets")},
                                    {"isolation.level", isolation}}) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      FAIL("librdkafka config " << name << "=" << value << ": " << err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << err);
  }
  return KafkaPtr(rk);
}

//! The low (`low` true) or high watermark of `partition`; -1 when the broker does not answer.
int64_t Watermark(rd_kafka_t* rk, const std::string& topic, int32_t partition, bool low_end = false) {
  int64_t low = -1, high = -1;
  return rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, &high, kQueryTimeoutMs) ==
                 RD_KAFKA_RESP_ERR_NO_ERROR
             ? (low_end ? low : high)
             : -1;
}

}  // namespace

struct EndOffsets::Clients {
  KafkaPtr uncommitted;
  KafkaPtr committed;
};

EndOffsets::EndOffsets(std::string topic, std::unique_ptr<Clients> clients)
    : topic_(std::move(topic)), clients_(std::move(clients)) {}

EndOffsets::~EndOffsets() = default;

std::unique_ptr<EndOffsets> EndOffsets::Make(const std::string& topic) {
  auto clients = std::make_unique<Clients>();
  clients->uncommitted = Consumer("read_uncommitted");
  clients->committed = Consumer("read_committed");
  return std::unique_ptr<EndOffsets>(new EndOffsets(topic, std::move(clients)));
}

int64_t EndOffsets::HighWatermark(int32_t partition) const {
  return Watermark(clients_->uncommitted.get(), topic_, partition);
}

int64_t EndOffsets::LowWatermark(int32_t partition) const {
  return Watermark(clients_->uncommitted.get(), topic_, partition, /*low_end=*/true);
}

int64_t EndOffsets::LastStable(int32_t partition) const {
  return Watermark(clients_->committed.get(), topic_, partition);
}

bool EndOffsets::OpenTransaction(int32_t partition) const {
  // In this order, a record below the high watermark that is still above the later last stable
  // offset belongs to a transaction that was open at the second query.
  const int64_t high = HighWatermark(partition);
  const int64_t stable = high < 0 ? -1 : LastStable(partition);
  return high >= 0 && stable >= 0 && stable < high;
}

}  // namespace vigil::testing
