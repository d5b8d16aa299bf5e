// `vigil simulate`: the Handbook transaction simulator, to files or straight to Kafka.
#include "app/simulate_command.h"

#include <fmt/core.h>

#include <deque>

#include "app/progress_bar.h"
#include "connectors/kafka_sink.h"
#include "connectors/topic_check.h"
#include "sim/labels.h"
#include "sim/simulator.h"
#include "sim/stats.h"
#include "sim/writer.h"

namespace vigil::app {
namespace {

//! Produces transactions (keyed by customer) and their labels (keyed by customer too, so a label
//! lands on the same partition number as its transaction, or by terminal for a pipeline that reads
//! them in its per-terminal stage) to two topics. Labels are published once
//! their label time has passed in event time: after the day that reaches it.
class KafkaPublisher {
 public:
  static base::Result<std::unique_ptr<KafkaPublisher>> Make(const SimulateOptions& o) {
    config::KafkaSpec kafka;
    kafka.bootstrap = o.bootstrap;
    kafka.producer["linger.ms"] = "20";
    kafka.producer["compression.type"] = "lz4";
    auto p = std::make_unique<KafkaPublisher>();
    VIGIL_ASSIGN_OR_RETURN(p->transactions_, connectors::KafkaSink::Make(kafka, o.topic));
    if (!o.labels_topic.empty()) {
      VIGIL_ASSIGN_OR_RETURN(p->labels_, connectors::KafkaSink::Make(kafka, o.labels_topic));
    }
    p->by_terminal_ = o.labels_key == "TERMINAL_ID";
    return p;
  }

  base::Status Day(std::span<const sim::Transaction> txs, int64_t label_delay_ms) {
    batch_.Clear();
    for (const sim::Transaction& tx : txs) {
      AddRecord(tx.customer_id, tx.tx_time_ms,
                [&](std::string& out) { sim::AppendTransactionJson(tx, out); });
      if (labels_)
        pending_.push_back(
            {sim::MakeLabel(tx, label_delay_ms), by_terminal_ ? tx.terminal_id : tx.customer_id});
    }
    VIGIL_RETURN_IF_ERROR(transactions_->Write(batch_));
    if (!labels_ || txs.empty()) return base::Status::OK();
    return PublishLabelsUpTo(txs.back().tx_time_ms);
  }

  base::Status Finish() {
    if (labels_) {
      VIGIL_RETURN_IF_ERROR(PublishLabelsUpTo(INT64_MAX));
      VIGIL_RETURN_IF_ERROR(labels_->Close());
    }
    return transactions_->Close();
  }

 private:
  struct PendingLabel {
    sim::Label label;
    int32_t key;  // customer or terminal id
  };

  template <typename Encode>
  void AddRecord(int32_t key, int64_t time_ms, Encode encode) {
    engine::OutRecord rec;
    rec.timestamp_ms =
        time_ms;  // the record's Kafka timestamp: event time for transactions, label time for labels
    rec.key_offset = static_cast<uint32_t>(batch_.buffer.size());
    batch_.buffer += std::to_string(key);
    rec.key_size = static_cast<uint32_t>(batch_.buffer.size()) - rec.key_offset;
    rec.value_offset = static_cast<uint32_t>(batch_.buffer.size());
    encode(batch_.buffer);
    while (!batch_.buffer.empty() && batch_.buffer.back() == '\n') batch_.buffer.pop_back();
    rec.value_size = static_cast<uint32_t>(batch_.buffer.size()) - rec.value_offset;
    batch_.records.push_back(rec);
  }

  base::Status PublishLabelsUpTo(int64_t time_ms) {
    batch_.Clear();
    while (!pending_.empty() && pending_.front().label.label_time_ms <= time_ms) {
      const PendingLabel p = pending_.front();
      pending_.pop_front();
      AddRecord(p.key, p.label.label_time_ms, [&](std::string& out) { sim::AppendLabelJson(p.label, out); });
    }
    return batch_.records.empty() ? base::Status::OK() : labels_->Write(batch_);
  }

  std::unique_ptr<connectors::KafkaSink> transactions_;
  std::unique_ptr<connectors::KafkaSink> labels_;
  bool by_terminal_ = false;
  std::deque<PendingLabel> pending_;
  engine::OutBatch batch_;
};

void PrintStats(const sim::SimStats& s) {
  fmt::print("transactions: {}\nfrauds: {} ({:.3f}%)\n", s.transactions, s.frauds, 100.0 * s.FraudRate());
  for (int i = 1; i < sim::kFraudScenarioCount; ++i)
    fmt::print("  scenario {} ({}): {}\n", i, sim::FraudScenarioName(static_cast<sim::FraudScenario>(i)),
               s.by_scenario[static_cast<size_t>(i)]);
  fmt::print("per day: {:.0f} transactions, {:.1f} frauds, {:.1f} compromised cards\n",
             s.MeanTransactionsPerDay(), s.MeanFraudsPerDay(), s.MeanCompromisedCardsPerDay());
}

}  // namespace

int SimulateCommand(const SimulateOptions& o) {
  auto simulator = sim::Simulator::Make(o.sim);
  if (!simulator.ok()) {
    fmt::print(stderr, "error: {}\n", simulator.status().message());
    return 2;
  }
  if (o.out.empty() && o.bootstrap.empty()) {
    fmt::print(stderr, "error: give --out FILE and/or --kafka BOOTSTRAP --topic TOPIC\n");
    return 2;
  }
  std::unique_ptr<sim::RecordWriter> tx_writer, label_writer;
  std::unique_ptr<KafkaPublisher> publisher;
  base::Status st;
  if (!o.out.empty()) {
    auto format = sim::OutputFormatFromPath(o.out);
    auto w = format.ok() ? sim::RecordWriter::OpenTransactions(o.out, *format) : format.status();
    if (w.ok())
      tx_writer = std::move(w).value();
    else
      st = w.status();
  }
  if (st.ok() && !o.labels_out.empty()) {
    auto format = sim::OutputFormatFromPath(o.labels_out);
    auto w = format.ok() ? sim::RecordWriter::OpenLabels(o.labels_out, *format) : format.status();
    if (w.ok())
      label_writer = std::move(w).value();
    else
      st = w.status();
  }
  if (st.ok() && !o.bootstrap.empty()) {
    config::KafkaSpec kafka;
    kafka.bootstrap = o.bootstrap;
    std::vector<connectors::NeededTopic> topics = {{o.topic, "transactions"}};
    if (!o.labels_topic.empty()) topics.push_back({o.labels_topic, "labels"});
    connectors::TopicCheckOptions check;
    check.create = o.create_topics;
    check.partitions = o.partitions;
    check.create_command = "vigil simulate ... --create-topics [--partitions N]";
    st = connectors::CheckTopics(kafka, topics, check);
  }
  if (st.ok() && !o.bootstrap.empty()) {
    auto p = KafkaPublisher::Make(o);
    if (p.ok())
      publisher = std::move(p).value();
    else
      st = p.status();
  }
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 2;
  }
  sim::StatsAccumulator stats;
  ProgressBar bar(!o.quiet, "simulate");
  const int64_t delay = o.sim.LabelDelayMs();
  st = (*simulator)
           ->Run(
               [&](int32_t day, std::span<const sim::Transaction> txs) -> base::Status {
                 stats.AddDay(day, txs);
                 if (tx_writer) VIGIL_RETURN_IF_ERROR(tx_writer->Write(txs));
                 if (label_writer) VIGIL_RETURN_IF_ERROR(label_writer->Write(sim::MakeLabels(txs, delay)));
                 if (publisher) VIGIL_RETURN_IF_ERROR(publisher->Day(txs, delay));
                 return base::Status::OK();
               },
               [&](double percent) { bar.Update(percent / 100); });
  bar.Finish();
  if (st.ok() && tx_writer) st = tx_writer->Close();
  if (st.ok() && label_writer) st = label_writer->Close();
  if (st.ok() && publisher) st = publisher->Finish();
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.ToString());
    return 1;
  }
  if (!o.quiet) PrintStats(stats.stats());
  return 0;
}

void AddSimulateCommand(CLI::App& app, SimulateOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "simulate", "Generate the Handbook's simulated card transactions (and delayed labels)");
  cmd->add_option("--customers", o.sim.customers, "Number of customers")->capture_default_str();
  cmd->add_option("--terminals", o.sim.terminals, "Number of terminals")->capture_default_str();
  cmd->add_option("--days", o.sim.days, "Number of days")->capture_default_str();
  cmd->add_option("--start-date", o.sim.start_date, "First day, YYYY-MM-DD")->capture_default_str();
  cmd->add_option("--radius", o.sim.radius, "Customers use terminals closer than this (map is 100x100)")
      ->capture_default_str();
  cmd->add_option("--label-delay-days", o.sim.label_delay_days,
                  "Days until a transaction's label is published")
      ->capture_default_str();
  cmd->add_option("--seed", o.sim.seed, "Random seed; the same seed gives the same data")
      ->capture_default_str();
  cmd->add_option(
         "--drift-day", o.sim.drift.start_day,
         "Day from which fraud drifts (more compromised terminals, smaller fraud amounts); -1 = none")
      ->capture_default_str();
  cmd->add_option("--drift-amount-factor", o.sim.drift.amount_factor,
                  "With --drift-day: every amount from that day is multiplied by this (a data drift)")
      ->capture_default_str();
  cmd->add_option("--out", o.out, "Write transactions to this .jsonl or .csv file");
  cmd->add_option("--labels-out", o.labels_out, "Write labels to this .jsonl or .csv file");
  cmd->add_option("--kafka,--bootstrap", o.bootstrap,
                  "Produce to the Kafka cluster at these bootstrap servers");
  cmd->add_option("--topic", o.topic, "Transactions topic (keyed by customer)")->capture_default_str();
  cmd->add_option("--labels-topic", o.labels_topic, "Labels topic (empty = no labels)")
      ->capture_default_str();
  cmd->add_option("--labels-key", o.labels_key,
                  "Field the labels are keyed by: CUSTOMER_ID, like the transactions, or TERMINAL_ID, for a "
                  "pipeline that reads them after its repartition by terminal (labels.source.key)")
      ->check(CLI::IsMember({"CUSTOMER_ID", "TERMINAL_ID"}))
      ->capture_default_str();
  cmd->add_flag("--quiet", o.quiet, "No progress bar and no summary");
  cmd->add_flag("--create-topics", o.create_topics,
                "With --kafka: create the topics that do not exist (default: name them and exit)");
  cmd->add_option(
      "--partitions", o.partitions,
      "Partitions of the topics --create-topics creates (default: those of the existing one, else 1)");
  cmd->callback([&o] { o.selected = true; });
}

}  // namespace vigil::app
