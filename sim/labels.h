#pragma once
// The label stream: each transaction's fraud label, published a fixed delay after the transaction,
// and the merge of both streams in event-time order (what a producer publishing the transactions
// topic and the labels topic in time order needs).

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <variant>
#include <vector>

#include "base/status.h"
#include "sim/transaction.h"

namespace vigil::sim {

//! The labels of `transactions`, each published `label_delay_ms` after its transaction, in the same
//! order (hence in label-time order when the transactions are in time order).
std::vector<Label> MakeLabels(std::span<const Transaction> transactions, int64_t label_delay_ms);

//! A transaction or a label.
using Event = std::variant<Transaction, Label>;

//! The event time of `event`: tx_time_ms or label_time_ms.
int64_t EventTimeMs(const Event& event);

//! Interleaves transactions and their delayed labels in event-time order. At equal times a label
//! comes before a transaction: a label due at t is known when the transaction at t is processed.
//! Buffers the labels of one delay's worth of transactions. Not thread-safe.
class EventMerger {
 public:
  //! Receives each event in order; a non-OK status stops the merge and is returned by Add/Finish.
  using Sink = std::function<base::Status(const Event& event)>;

  //! A merger publishing labels `label_delay_ms` (>= 0) after their transactions into `sink`.
  EventMerger(int64_t label_delay_ms, Sink sink);

  //! Emits the labels due by each transaction's time, then the transaction. Transactions must come
  //! in non-decreasing time across calls; FailedPrecondition otherwise.
  base::Status Add(std::span<const Transaction> transactions);

  //! Emits the labels due at or before `time_ms` (for example the end of the simulated period).
  base::Status AdvanceTo(int64_t time_ms);

  //! Emits every pending label.
  base::Status Finish();

  //! Labels not yet emitted.
  size_t pending_labels() const { return pending_.size(); }

 private:
  int64_t label_delay_ms_;     //!< Label delay.
  Sink sink_;                  //!< Where events go.
  std::deque<Label> pending_;  //!< Labels not yet due, in label-time order.
  int64_t last_tx_time_ms_;    //!< Time of the last transaction added, for the order check.
};

//! Convenience: all transactions (in time order) and their labels merged into one vector.
base::Result<std::vector<Event>> MergeByEventTime(std::span<const Transaction> transactions,
                                                  int64_t label_delay_ms);

}  // namespace vigil::sim
