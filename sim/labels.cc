#include "sim/labels.h"

#include <limits>
#include <string>
#include <utility>

namespace vigil::sim {

std::vector<Label> MakeLabels(std::span<const Transaction> transactions, int64_t label_delay_ms) {
  std::vector<Label> labels;
  labels.reserve(transactions.size());
  for (const Transaction& tx : transactions) labels.push_back(MakeLabel(tx, label_delay_ms));
  return labels;
}

int64_t EventTimeMs(const Event& event) {
  if (const auto* tx = std::get_if<Transaction>(&event)) return tx->tx_time_ms;
  return std::get<Label>(event).label_time_ms;
}

EventMerger::EventMerger(int64_t label_delay_ms, Sink sink)
    : label_delay_ms_(label_delay_ms),
      sink_(std::move(sink)),
      last_tx_time_ms_(std::numeric_limits<int64_t>::min()) {}

base::Status EventMerger::Add(std::span<const Transaction> transactions) {
  for (const Transaction& tx : transactions) {
    if (tx.tx_time_ms < last_tx_time_ms_) {
      return base::FailedPrecondition("transaction " + std::to_string(tx.transaction_id) +
                                      " is earlier than the one before it");
    }
    last_tx_time_ms_ = tx.tx_time_ms;
    VIGIL_RETURN_IF_ERROR(AdvanceTo(tx.tx_time_ms));
    VIGIL_RETURN_IF_ERROR(sink_(Event(tx)));
    pending_.push_back(MakeLabel(tx, label_delay_ms_));
  }
  return base::Status::OK();
}

base::Status EventMerger::AdvanceTo(int64_t time_ms) {
  while (!pending_.empty() && pending_.front().label_time_ms <= time_ms) {
    const Label label = pending_.front();
    pending_.pop_front();
    VIGIL_RETURN_IF_ERROR(sink_(Event(label)));
  }
  return base::Status::OK();
}

base::Status EventMerger::Finish() { return AdvanceTo(std::numeric_limits<int64_t>::max()); }

base::Result<std::vector<Event>> MergeByEventTime(std::span<const Transaction> transactions,
                                                  int64_t label_delay_ms) {
  std::vector<Event> events;
  events.reserve(transactions.size() * 2);
  EventMerger merger(label_delay_ms, [&](const Event& e) {
    events.push_back(e);
    return base::Status::OK();
  });
  VIGIL_RETURN_IF_ERROR(merger.Add(transactions));
  VIGIL_RETURN_IF_ERROR(merger.Finish());
  return events;
}

}  // namespace vigil::sim
