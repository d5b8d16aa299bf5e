#pragma once
// PendingOutcomes: the scored events of one task that wait for their labels, kept in the task's
// state so that a restart or a rebalance loses none. Each is one store record under the score
// operator's table, keyed by (due time, source offset) big-endian, so the store holds them in the
// order they mature; its value is the event as served (ScoredEvent fields, the model version, the
// served vector and the segment column values). The store is changelogged and committed with the
// input offset: a pending outcome is in the state exactly when the events that matured it are not
// committed yet.
//
// In memory only the outcomes of the last two commit intervals are held: `fresh` (scored since the
// last Flush, not in the store) and `staged` (put by the last Flush; in the store once that commit
// applied, which may happen while the worker runs). Mature(through) hands over every outcome due at
// or before `through`, from the three places, each once: the store is read past the highest `through`
// so far (what is below it was handed over, its deletion staged or applied), skipping what the staged
// generation holds. An outcome that matures before its Flush never reaches the store.
//
// Cost: one store record and one changelog record per scored event, and a tombstone when it matures;
// one store seek per batch whose `through` moved. State size: the events of the label delay.
//
// Thread-safety: the task's, like any operator state (engine/operator.h rules 3 and 6).

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/state_store.h"
#include "operators/score_monitor.h"

namespace vigil::operators {

//! A pending outcome as decoded from its record; the views point into PendingOutcomes' buffers and
//! are valid until the next Mature or Flush.
struct OutcomeView {
  ScoredEvent event;              //!< label unset (0)
  std::string_view version;       //!< The version that decided it.
  const float* inputs = nullptr;  //!< The served vector, `width` floats.
  //! The segment columns' values as text, `num_segments` of them.
  std::array<std::string_view, kMaxSegmentColumns> segments{};
  size_t num_segments = 0;
};

class PendingOutcomes {
 public:
  //! `width`: the served vector's length; `delay_ms`: from event time to due time.
  PendingOutcomes(engine::StateStore* store, engine::TableId table, size_t width, int64_t delay_ms);

  //! Adds a scored event, due at its time + delay.
  void Add(const ScoredEvent& e, std::string_view version, const float* inputs,
           std::span<const std::string> segments);
  //! Decodes, into `out` (cleared first, in (due time, offset) order), every pending outcome due at or
  //! before `through`, and removes them (their deletion is staged at the next Flush).
  base::Status Mature(int64_t through, std::vector<OutcomeView>* out);
  //! Stages the new outcomes and the deletions into the store (engine/operator.h rule 6).
  void Flush();
  //! Outcomes held in memory (the last two commit intervals').
  size_t in_memory() const { return fresh_.slots.size() + staged_.slots.size(); }

 private:
  struct Slot {
    uint64_t due;    //!< Order-preserving: due time with the sign bit flipped.
    uint64_t order;  //!< Same for the source offset.
    uint32_t at, size;
    bool emitted;
  };
  struct Generation {
    std::string buf;                                  //!< Encoded values.
    std::vector<Slot> slots;                          //!< In arrival order.
    std::vector<std::pair<uint64_t, uint32_t>> heap;  //!< (due, slot) min-heap of the unemitted.
    std::vector<std::pair<uint64_t, uint64_t>> keys;  //!< staged only: every slot's key, sorted.
    void Clear();
  };
  //! Moves the generation's slots due at or before `due` to the matured list.
  void TakeDue(Generation* g, uint64_t due, bool staged);
  bool InStaged(uint64_t due, uint64_t order) const;
  //! Decodes `value` into `out`, its served vector into `inputs` (width floats).
  void Decode(std::string_view value, OutcomeView* out, float* inputs) const;

  engine::StateStore* store_;
  engine::TableId table_;
  size_t width_;
  int64_t delay_ms_;
  Generation fresh_, staged_;
  int64_t through_ = INT64_MIN;                        //!< The highest Mature(through) so far.
  std::vector<std::pair<uint64_t, uint64_t>> delete_;  //!< Keys to delete at the next Flush.
  std::string scanned_;                                //!< Values read from the store by Mature.
  struct Matured {
    uint64_t due, order;
    int source;  //!< 0 fresh, 1 staged, 2 scanned
    uint32_t at, size;
  };
  std::vector<Matured> matured_;
  std::vector<float> inputs_;  //!< The matured outcomes' served vectors, aligned.
  std::string key_buf_, value_buf_;
};

//! Appends a matured outcome as one JSON object (the `<group>.outcomes` record): id, time, card,
//! score, flagged, label, version, epoch, canary, challenger, champion, amount, partition, offset,
//! x (the served vector, in the pipeline's `features:` order) and, with the monitor's segment
//! columns, segments (their values as text, in the columns' order).
void AppendOutcomeJson(const OutcomeView& o, int label, int32_t partition, size_t width, std::string* out);

}  // namespace vigil::operators
