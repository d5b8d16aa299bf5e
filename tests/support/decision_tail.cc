#include "tests/support/decision_tail.h"

#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string_view>

#include "tests/support/handbook_stream.h"
#include "tests/support/kafka_env.h"

namespace vigil::testing {

struct DecisionTail::Client {
  rd_kafka_t* rk = nullptr;
  ~Client() {
    if (rk != nullptr) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }
};

std::unique_ptr<DecisionTail> DecisionTail::Make(const std::string& topic, int partitions) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", Bootstrap()},
           {"group.id", "unused-" + topic},  // required by the API; assign() joins no group
           {"enable.auto.commit", "false"},
           {"isolation.level", "read_committed"},
           {"auto.offset.reset", "earliest"},
           {"log_level", "0"}}) {  // connection errors while the broker restarts are expected
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      FAIL("librdkafka config " << name << ": " << err);
    }
  }
  auto client = std::make_unique<Client>();
  client->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (client->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << err);
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  const rd_kafka_resp_err_t assigned = rd_kafka_assign(client->rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  REQUIRE(assigned == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::unique_ptr<DecisionTail> tail(new DecisionTail(std::move(client)));
  tail->thread_ = std::thread([t = tail.get()] { t->Run(); });
  return tail;
}

DecisionTail::DecisionTail(std::unique_ptr<Client> client) : client_(std::move(client)) {}

DecisionTail::~DecisionTail() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void DecisionTail::Run() {
  std::vector<Arrival> batch;
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(client_->rk, 100);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        batch.push_back(
            {JsonInt(std::string(static_cast<const char*>(m->payload), m->len), "TRANSACTION_ID"), now});
      rd_kafka_message_destroy(m);
    }
    if (!batch.empty() && (m == nullptr || batch.size() >= 1000)) {
      std::lock_guard lock(mu_);
      arrivals_.insert(arrivals_.end(), batch.begin(), batch.end());
      batch.clear();
    }
  }
}

std::vector<Arrival> DecisionTail::Arrivals() {
  std::lock_guard lock(mu_);
  return arrivals_;
}

size_t DecisionTail::Count() {
  std::lock_guard lock(mu_);
  return arrivals_.size();
}

}  // namespace vigil::testing
