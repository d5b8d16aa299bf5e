#include "tests/support/chunk_producer.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <utility>

#include "tests/support/kafka_env.h"

namespace vigil::testing {
namespace {

struct Reports {
  size_t delivered = 0;
  std::string first_error;
  std::mutex log_mu;  // the log callback runs on the client's threads
  std::ofstream* log = nullptr;
};

struct Destroy {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};

}  // namespace

ChunkProducer::ChunkProducer(std::string topic, std::vector<std::string> files,
                             std::chrono::milliseconds pause, std::string log_path, ChunkPacing pacing)
    : topic_(std::move(topic)),
      files_(std::move(files)),
      pause_(pause),
      log_path_(std::move(log_path)),
      pacing_(pacing) {
  thread_ = std::thread([this] { Run(); });
}

ChunkProducer::~ChunkProducer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ChunkProducer::Run() {
  std::string error = ProduceAll();
  std::lock_guard lock(mu_);
  error_ = std::move(error);
  done_ = true;
  cv_.notify_all();
}

void ChunkProducer::Pause() {
  std::unique_lock lock(mu_);
  pause_requested_ = true;
  cv_.wait(lock, [this] { return paused_ || done_; });
}

void ChunkProducer::Resume() {
  {
    std::lock_guard lock(mu_);
    pause_requested_ = false;
  }
  cv_.notify_all();
}

bool ChunkProducer::Running() {
  std::lock_guard lock(mu_);
  return !done_;
}

std::string ChunkProducer::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return done_; })) return "still producing after the timeout";
  return error_;
}

std::vector<int64_t> ChunkProducer::DeliveredMs() {
  std::lock_guard lock(mu_);
  return delivered_ms_;
}

std::string ChunkProducer::ProduceAll() {
  std::ofstream log(log_path_, std::ios::app);
  Reports reports;
  reports.log = &log;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", Bootstrap()},
           {"enable.idempotence", "true"},  // retries across a broker restart duplicate nothing
           {"compression.type", "lz4"},
           {"linger.ms", "5"},
           {"message.timeout.ms", "300000"}}) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return name + ": " + err;
    }
  }
  rd_kafka_conf_set_opaque(conf, &reports);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* record, void* opaque) {
    auto* r = static_cast<Reports*>(opaque);
    if (record->err == RD_KAFKA_RESP_ERR_NO_ERROR)
      ++r->delivered;
    else if (r->first_error.empty())
      r->first_error = rd_kafka_err2str(record->err);
  });
  // Transport errors while the broker restarts are logged, not fatal: the client retries.
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int code, const char* reason, void* opaque) {
    auto* r = static_cast<Reports*>(opaque);
    std::lock_guard lock(r->log_mu);
    *r->log << "error " << rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)) << ": " << reason
            << std::endl;
  });
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int level, const char* facility, const char* line) {
    auto* r = static_cast<Reports*>(rd_kafka_opaque(rk));
    std::lock_guard lock(r->log_mu);
    *r->log << "log " << level << " " << facility << ": " << line << std::endl;
  });
  std::unique_ptr<rd_kafka_t, Destroy> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return std::string("rd_kafka_new: ") + err;
  }

  size_t produced = 0;
  const auto first_start = std::chrono::steady_clock::now();
  for (size_t chunk = 0; chunk < files_.size(); ++chunk) {
    const std::string& file = files_[chunk];
    {
      std::unique_lock lock(mu_);
      paused_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !pause_requested_ || stop_; });
      paused_ = false;
      if (stop_) return "stopped";
    }
    std::ifstream in(file);
    if (!in) return "cannot read " + file;
    for (std::string line; std::getline(in, line);) {
      int32_t partition = 0;
      size_t key_at = 0;
      if (pacing_.partition_column) {
        key_at = line.find('\t') + 1;
        if (key_at == 0) return "no partition in a line of " + file;
        partition = static_cast<int32_t>(std::strtol(line.c_str(), nullptr, 10));
      }
      const size_t tab = line.find('\t', key_at);
      if (tab == std::string::npos) return "no key in a line of " + file;
      char* key = line.data() + key_at;  // RD_KAFKA_V_KEY does not parenthesise its argument
      char* value = line.data() + tab + 1;
      const size_t value_size = line.size() - tab - 1;
      rd_kafka_resp_err_t e;
      while ((e = rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
                                    RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(key, tab - key_at), RD_KAFKA_V_VALUE(value, value_size),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk.get(), 100);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return std::string("produce: ") + rd_kafka_err2str(e);
      ++produced;
    }
    // The chunk is delivered before the pause (or the next chunk) begins.
    while (rd_kafka_outq_len(rk.get()) > 0) {
      rd_kafka_flush(rk.get(), 200);
      std::lock_guard lock(mu_);
      if (stop_) return "stopped";
    }
    if (char fatal[256]; rd_kafka_fatal_error(rk.get(), fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::string("fatal producer error: ") + fatal;
    if (!reports.first_error.empty()) return "delivery failed: " + reports.first_error;
    if (reports.delivered != produced)
      return std::to_string(reports.delivered) + " of " + std::to_string(produced) + " records delivered";
    std::unique_lock lock(mu_);
    delivered_ms_.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    const auto next = pacing_.fixed_rate ? first_start + pause_ * static_cast<int64_t>(chunk + 1)
                                         : std::chrono::steady_clock::now() + pause_;
    if (cv_.wait_until(lock, next, [this] { return stop_; })) return "stopped";
  }
  return "";
}

}  // namespace vigil::testing
