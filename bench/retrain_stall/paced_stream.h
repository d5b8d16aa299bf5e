#pragma once
// The endless paced stream of retrain_stall_bench.cc: a Source that serves a recorded file whole (the
// catch-up), then loops over it at a fixed rate of wall time with fresh ids and event times, its
// readers and a sink that take the per-batch timestamps (Recorder). Only that bench includes it.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "base/file.h"
#include "base/status.h"
#include "base/time.h"
#include "config/pipeline_config.h"
#include "engine/io.h"
#include "engine/pipeline.h"

namespace vigil::bench::retrain_stall {

using Clock = std::chrono::steady_clock;
using base::kMsPerDay;
inline constexpr int64_t kPassGapMs = 60'000;  // event time between two passes over the file

//! Command line.
struct Options {
  std::string pipeline, table, events, labels;
  double rate = 20'000;  //!< Paced events per second of wall time. Default 20,000.
  double seconds = 20;   //!< Length of each phase, s. Default 20.
  double warmup = 3;     //!< Paced, unmeasured seconds before the first phase. Default 3.
};

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

//! One JSONL record whose integer id and time values can be rewritten without parsing the JSON again.
struct Template {
  std::string_view line;
  size_t id_at = 0, id_len = 0;      //!< The id value's bytes in `line`.
  size_t time_at = 0, time_len = 0;  //!< The time value's bytes.
  int64_t id = 0, time = 0;

  //! Appends the record with id + id_shift and time + time_shift.
  void Render(int64_t id_shift, int64_t time_shift, std::string* out) const {
    const bool id_first = id_at < time_at;
    const size_t a_at = id_first ? id_at : time_at, a_len = id_first ? id_len : time_len;
    const size_t b_at = id_first ? time_at : id_at, b_len = id_first ? time_len : id_len;
    const int64_t a = id_first ? id + id_shift : time + time_shift,
                  b = id_first ? time + time_shift : id + id_shift;
    char num[24];
    out->append(line.substr(0, a_at));
    out->append(num, std::to_chars(num, num + sizeof num, a).ptr);
    out->append(line.substr(a_at + a_len, b_at - a_at - a_len));
    out->append(num, std::to_chars(num, num + sizeof num, b).ptr);
    out->append(line.substr(b_at + b_len));
  }
};

//! Finds `"field": <integer>` in a flat JSON object line: the value's position, length and value.
inline bool FindInt(std::string_view line, const std::string& field, size_t* at, size_t* len,
                    int64_t* value) {
  const std::string quoted = "\"" + field + "\"";
  for (size_t pos = line.find(quoted); pos != std::string_view::npos; pos = line.find(quoted, pos + 1)) {
    size_t i = pos + quoted.size();
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size() || line[i] != ':') continue;
    ++i;
    while (i < line.size() && line[i] == ' ') ++i;
    const auto [end, ec] = std::from_chars(line.data() + i, line.data() + line.size(), *value);
    if (ec != std::errc()) return false;
    *at = i;
    *len = static_cast<size_t>(end - (line.data() + i));
    return true;
  }
  return false;
}

//! The records of a JSONL text, as templates over `id` and `time`.
base::Result<std::vector<Template>> Templates(const std::string& text, const std::string& id,
                                              const std::string& time, const std::string& path) {
  std::vector<Template> out;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    Template t{line};
    if (!FindInt(line, id, &t.id_at, &t.id_len, &t.id) ||
        !FindInt(line, time, &t.time_at, &t.time_len, &t.time))
      return base::InvalidArgument(path + ":" + std::to_string(line_no) + ": no integer " + id + " and " +
                                   time);
    out.push_back(t);
  }
  if (out.empty()) return base::InvalidArgument(path + ": no records");
  return out;
}

//! One batch as the benchmark saw it.
struct Sample {
  double at = 0;       //!< When its read returned, s after the recorder's epoch.
  double latency = 0;  //!< Read returned → records handed to the sink, s.
  size_t events = 0;
  double delay = NAN;   //!< Paced: its first event's due time at the source → hand-off, s.
  int64_t backlog = 0;  //!< Paced: events due at the source but not read yet, when its read returned.
};

//! Per-batch samples. The reader opens a batch when Read returns events; a sink closes it when the
//! task hands the batch's records over (the output sink, or the dead-letter sink for a batch without
//! output). The source has one partition, so at most one batch is open. Thread-safe.
class Recorder {
 public:
  Recorder() : epoch_(Clock::now()) {}
  void Opened(Clock::time_point read_done, size_t events, Clock::time_point first_due, int64_t backlog) {
    std::lock_guard lock(mu_);
    open_ = Sample{Seconds(read_done - epoch_), 0, events,
                   first_due == Clock::time_point{} ? NAN : Seconds(read_done - first_due), backlog};
    open_at_ = read_done;
    is_open_ = true;
  }
  void HandedOver(size_t records, bool dead_letters) {
    const auto now = Clock::now();
    std::lock_guard lock(mu_);
    (dead_letters ? dead_ : out_) += records;
    if (!is_open_) return;
    open_.latency = Seconds(now - open_at_);
    if (!std::isnan(open_.delay)) open_.delay += open_.latency;
    samples_.push_back(open_);
    is_open_ = false;
  }
  //! Samples whose read returned in [from, to).
  std::vector<Sample> Between(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mu_);
    std::vector<Sample> out;
    for (const Sample& s : samples_)
      if (s.at >= Seconds(from - epoch_) && s.at < Seconds(to - epoch_)) out.push_back(s);
    return out;
  }
  uint64_t out() const {
    std::lock_guard lock(mu_);
    return out_;
  }
  uint64_t dead() const {
    std::lock_guard lock(mu_);
    return dead_;
  }

 private:
  const Clock::time_point epoch_;
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
  Sample open_;
  Clock::time_point open_at_;
  bool is_open_ = false;
  uint64_t out_ = 0, dead_ = 0;
};

//! The stream: pass 0 is the file as it is, served as fast as it is read; pass k ≥ 1 is the file with
//! ids + k·id_period and times + k·time_period, paced. Control calls (StartPacing, Stop) from the
//! bench's thread; the readers from the task's worker.
class Stream {
 public:
  static base::Result<std::unique_ptr<Stream>> Load(const config::PipelineSpec& spec, const Options& o) {
    std::unique_ptr<Stream> s(new Stream());
    VIGIL_ASSIGN_OR_RETURN(s->events_text_, base::ReadFile(o.events));
    VIGIL_ASSIGN_OR_RETURN(s->events_,
                           Templates(s->events_text_, spec.labels.id, spec.schema.event_time, o.events));
    if (spec.labels.enabled) {
      VIGIL_ASSIGN_OR_RETURN(s->labels_text_, base::ReadFile(o.labels));
      VIGIL_ASSIGN_OR_RETURN(s->labels_,
                             Templates(s->labels_text_, spec.labels.id, spec.labels.time, o.labels));
      std::stable_sort(s->labels_.begin(), s->labels_.end(),
                       [](const Template& a, const Template& b) { return a.time < b.time; });
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN, max_id = 0;
    for (const auto* records : {&s->events_, &s->labels_}) {
      for (const Template& t : *records) {
        hi = std::max(hi, t.time);
        max_id = std::max(max_id, t.id);
      }
    }
    for (const Template& t : s->events_) lo = std::min(lo, t.time);
    // Passes overlap neither in event time nor in label time.
    s->time_period_ = hi - lo + kPassGapMs;
    s->id_period_ = max_id + 1;
    s->last_time_ =
        std::max_element(s->events_.begin(), s->events_.end(), [](const Template& a, const Template& b) {
          return a.time < b.time;
        })->time;
    return s;
  }

  //! From now on, passes 1, 2, ... at `rate` events per second. Call once, after pass 0 was read.
  void StartPacing(double rate) {
    rate_ = rate;
    t0_ = Clock::now();
    paced_.store(true, std::memory_order_release);
  }
  //! No more events.
  void Stop() { stopped_.store(true, std::memory_order_relaxed); }
  uint64_t delivered() const { return next_.load(std::memory_order_relaxed); }
  size_t file_events() const { return events_.size(); }
  int64_t last_time() const { return last_time_; }

  //! Events due at the source by `now`: the file, then `rate` per second since StartPacing.
  uint64_t Due(Clock::time_point now) const {
    if (!paced_.load(std::memory_order_acquire)) return events_.size();
    return events_.size() + static_cast<uint64_t>(std::max(0.0, Seconds(now - t0_)) * rate_);
  }

  //! The event reader's Read (see Stream's class comment); opens the batch in `recorder`.
  void ReadEvents(size_t max_events, int wait_ms, Recorder* recorder, std::string* buffer,
                  std::vector<engine::RawEvent>* out) {
    out->clear();
    const uint64_t next = next_.load(std::memory_order_relaxed);
    auto now = Clock::now();
    const auto deadline = now + std::chrono::milliseconds(wait_ms);
    const bool paced = paced_.load(std::memory_order_acquire);
    uint64_t due = Due(now);
    // As a Kafka consumer's batch read: return once max_events are there or the wait is over.
    while (paced && due < next + max_events && now < deadline) {
      const auto full = t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                  static_cast<double>(next + max_events - events_.size()) / rate_));
      std::this_thread::sleep_until(std::min(deadline, full));
      now = Clock::now();
      due = Due(now);
    }
    const uint64_t n = stopped_.load(std::memory_order_relaxed) || due <= next
                           ? 0
                           : std::min<uint64_t>(due - next, max_events);
    // Nothing to read (the file was read and pacing has not started, or Stop): wait, as Kafka does.
    if (n == 0) {
      std::this_thread::sleep_until(deadline);
      return;
    }
    buffer->clear();
    std::vector<size_t> ends;
    int64_t newest = INT64_MIN;
    for (uint64_t seq = next; seq < next + n; ++seq) {
      const Template& t = events_[seq % events_.size()];
      const auto pass = static_cast<int64_t>(seq / events_.size());
      t.Render(pass * id_period_, pass * time_period_, buffer);
      ends.push_back(buffer->size());
      newest = std::max(newest, t.time + pass * time_period_);
    }
    for (size_t i = 0, begin = 0; i < n; begin = ends[i++])
      out->push_back(engine::RawEvent{buffer->data() + begin, static_cast<uint32_t>(ends[i] - begin), nullptr,
                                      0, static_cast<int64_t>(next + i)});
    next_.store(next + n, std::memory_order_relaxed);
    if (newest > published_ms_.load(std::memory_order_relaxed))
      published_ms_.store(newest, std::memory_order_release);
    const auto read_done = Clock::now();
    Clock::time_point first_due{};
    if (paced)
      first_due = t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            static_cast<double>(next - events_.size()) / rate_));
    recorder->Opened(read_done, n, first_due,
                     static_cast<int64_t>(Due(read_done)) - static_cast<int64_t>(next + n));
  }

  //! True when the next label is published (its label time ≤ the newest event time read).
  bool LabelReady() const {
    if (labels_.empty()) return false;
    const Template& t = labels_[label_next_ % labels_.size()];
    const auto pass = static_cast<int64_t>(label_next_ / labels_.size());
    return t.time + pass * time_period_ <= published_ms_.load(std::memory_order_acquire);
  }

  //! The label reader's Read: the published labels, in label-time order; never waits.
  void ReadLabels(size_t max_labels, std::string* buffer, std::vector<engine::RawEvent>* out) {
    out->clear();
    buffer->clear();
    std::vector<size_t> ends;
    const uint64_t first = label_next_;
    for (; ends.size() < max_labels && LabelReady(); ++label_next_) {
      const auto pass = static_cast<int64_t>(label_next_ / labels_.size());
      labels_[label_next_ % labels_.size()].Render(pass * id_period_, pass * time_period_, buffer);
      ends.push_back(buffer->size());
    }
    for (size_t i = 0, begin = 0; i < ends.size(); begin = ends[i++])
      out->push_back(engine::RawEvent{buffer->data() + begin, static_cast<uint32_t>(ends[i] - begin), nullptr,
                                      0, static_cast<int64_t>(first + i)});
  }

 private:
  Stream() = default;
  std::string events_text_, labels_text_;
  std::vector<Template> events_, labels_;
  int64_t time_period_ = 0, id_period_ = 0, last_time_ = 0;
  double rate_ = 0;
  Clock::time_point t0_;
  std::atomic<bool> paced_{false}, stopped_{false};
  std::atomic<uint64_t> next_{0};                 // events read
  std::atomic<int64_t> published_ms_{INT64_MIN};  // newest event time read: labels up to it are out
  uint64_t label_next_ = 0;                       // labels read; the worker's
};

class EventReader final : public engine::PartitionReader {
 public:
  EventReader(Stream* stream, Recorder* recorder) : stream_(stream), recorder_(recorder) {}
  base::Status Read(std::size_t max_events, int wait_ms, std::vector<engine::RawEvent>* out) override {
    stream_->ReadEvents(max_events, wait_ms, recorder_, &buffer_, out);
    return base::Status::OK();
  }
  int64_t Lag() const override {
    return static_cast<int64_t>(stream_->Due(Clock::now())) - static_cast<int64_t>(stream_->delivered());
  }

 private:
  Stream* stream_;
  Recorder* recorder_;
  std::string buffer_;  // the events of the last Read
};

class LabelReader final : public engine::PartitionReader {
 public:
  explicit LabelReader(Stream* stream) : stream_(stream) {}
  base::Status Read(std::size_t max_events, int, std::vector<engine::RawEvent>* out) override {
    stream_->ReadLabels(max_events, &buffer_, out);
    return base::Status::OK();
  }
  //! 0 when no published label is left to read, so the task never waits for labels.
  int64_t Lag() const override { return stream_->LabelReady() ? 1 : 0; }

 private:
  Stream* stream_;
  std::string buffer_;
};

//! One partition over the Stream; never finishes.
class StreamSource final : public engine::Source {
 public:
  StreamSource(Stream* stream, Recorder* recorder, bool labels, std::string name)
      : stream_(stream), recorder_(recorder), labels_(labels), name_(std::move(name)) {}
  base::Status Start(engine::SourceListener* listener) override {
    VIGIL_RETURN_IF_ERROR(listener->PrepareAssign(0).status());
    return listener->Assigned(0, std::make_unique<EventReader>(stream_, recorder_),
                              labels_ ? std::make_unique<LabelReader>(stream_) : nullptr);
  }
  base::Status Poll(int timeout_ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return base::Status::OK();
  }
  base::Status Commit(std::span<const engine::PartitionOffset>) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }
  const std::string& name() const override { return name_; }

 private:
  Stream* stream_;
  Recorder* recorder_;
  bool labels_;
  std::string name_;
};

//! Counts what the task hands over and closes the batch in the Recorder.
class RecordingSink final : public engine::Sink {
 public:
  RecordingSink(Recorder* recorder, bool dead_letters) : recorder_(recorder), dead_letters_(dead_letters) {}
  base::Status Write(const engine::OutBatch& batch) override {
    recorder_->HandedOver(batch.records.size(), dead_letters_);
    return base::Status::OK();
  }
  base::Status Flush(int) override { return base::Status::OK(); }
  base::Status Close() override { return base::Status::OK(); }

 private:
  Recorder* recorder_;
  bool dead_letters_;
};

}  // namespace vigil::bench::retrain_stall
