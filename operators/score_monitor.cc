#include "operators/score_monitor.h"

#include <fmt/format.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "monitor/detector.h"
#include "monitor/drift.h"
#include "monitor/label_window.h"
#include "monitor/reference.h"

namespace vigil::operators {

using prometheus::Family;
using prometheus::Gauge;

struct ScoreMonitor::Impl {
  models::Registry registry{""};  // set by Make
  std::string pipeline;
  double review_threshold = 0.5;
  double drift_signal_psi = 0;  // 0: no drift signal
  // Per feature, then the score: a PSI signal was raised for it and it has not fallen back under since.
  std::vector<bool> psi_signaled;
  // Per feature, then the score: the event time from which its PSI has been at or over the signal's
  // threshold (0: under), checked by Observe once per sub-window of events (mutex held). A signal
  // carries it: the event time the drift became visible, however late Export sees it.
  std::vector<int64_t> over_since_ms;
  int64_t checked_at_events = 0;  // drift->events_observed() at the last check
  std::shared_ptr<prometheus::Registry> metrics;
  Family<Gauge>* feature_psi = nullptr;
  Family<Gauge>* feature_ks = nullptr;
  Family<Gauge>* score_psi = nullptr;
  Family<Gauge>* window_events = nullptr;
  Family<Gauge>* last_evaluation = nullptr;
  Family<Gauge>* average_precision = nullptr;
  Family<Gauge>* precision_at_threshold = nullptr;
  Family<Gauge>* recall_at_threshold = nullptr;
  Family<Gauge>* card_precision = nullptr;
  Family<Gauge>* segment_average_precision = nullptr;
  Family<Gauge>* segment_precision = nullptr;
  Family<Gauge>* segment_recall = nullptr;
  Family<Gauge>* segment_underserved = nullptr;
  Family<Gauge>* drift_detected = nullptr;

  // The version being monitored and its series (mutex held).
  std::string version;
  uint64_t generation = 0;  // counts version switches: the evaluation below restarts at each
  std::unique_ptr<monitor::DriftMonitor> drift;  // null: the version has no reference
  std::vector<ScoredEvent> matured;  // recorded by the workers since the last Export, this version
  std::vector<Gauge*> feature_psi_series, feature_ks_series;
  std::vector<std::pair<Family<Gauge>*, Gauge*>> version_series;  // one per family, this version
  Gauge* last_evaluation_series = nullptr;
  // Performance segments (null without): the value catalogue under the mutex, the card ages the
  // export thread's.
  std::unique_ptr<MonitorSegments> segments;
  // Per (segment, value): average precision, precision, recall, under-served; this version.
  std::map<std::pair<std::string, std::string>, std::array<Gauge*, 4>> segment_series;

  // Performance on matured labels: the export thread's own, used without the mutex (Export swaps the
  // workers' `matured` in under it and evaluates here, so the sort over every matured record never
  // holds a worker up).
  uint64_t evaluated_generation = 0;
  std::vector<ScoredEvent> evaluating;
  std::unique_ptr<monitor::LabelWindow> labels;
  std::optional<monitor::PageHinkley> detector;
  int32_t last_detected_day = -1;
  bool alarm = false;
  int64_t newest_event_ms = 0;  // the newest event time Observe saw (mutex held)
  bool alarm_signaled = false;  // the change detector's alarm was signalled for this version
  // The segmentations of the records being evaluated, copied under the mutex at the swap.
  std::vector<monitor::SegmentDimension> dimensions;

  void RemoveSeries() {
    for (size_t i = 0; i < feature_psi_series.size(); ++i) {
      feature_psi->Remove(feature_psi_series[i]);
      feature_ks->Remove(feature_ks_series[i]);
    }
    feature_psi_series.clear();
    feature_ks_series.clear();
    for (auto [family, gauge] : version_series) family->Remove(gauge);
    version_series.clear();
    for (const auto& [key, gauges] : segment_series) {
      segment_average_precision->Remove(gauges[0]);
      segment_precision->Remove(gauges[1]);
      segment_recall->Remove(gauges[2]);
      segment_underserved->Remove(gauges[3]);
    }
    segment_series.clear();
  }
  //! The gauges of one segment, made on first use (mutex held).
  std::array<Gauge*, 4>& SegmentGauges(const std::string& segment, const std::string& value) {
    auto [it, inserted] = segment_series.try_emplace({segment, value});
    if (inserted) {
      const prometheus::Labels labels{
          {"pipeline", pipeline}, {"model_version", version}, {"segment", segment}, {"value", value}};
      it->second = {&segment_average_precision->Add(labels), &segment_precision->Add(labels),
                    &segment_recall->Add(labels), &segment_underserved->Add(labels)};
    }
    return it->second;
  }
  Gauge* VersionGauge(Family<Gauge>* family) {
    Gauge* g = &family->Add({{"pipeline", pipeline}, {"model_version", version}});
    g->Set(std::nan(""));
    version_series.emplace_back(family, g);
    return g;
  }
};

namespace {
Family<Gauge>* MakeFamily(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
}  // namespace

base::Result<std::unique_ptr<ScoreMonitor>> ScoreMonitor::Make(
    const config::MonitorSpec& spec, double review_threshold, models::Registry registry, std::string pipeline,
    std::shared_ptr<prometheus::Registry> metrics, double drift_signal_psi) {
  auto impl = std::make_unique<Impl>();
  impl->drift_signal_psi = drift_signal_psi;
  impl->registry = std::move(registry);
  impl->pipeline = std::move(pipeline);
  impl->review_threshold = review_threshold;
  impl->metrics = std::move(metrics);
  if (impl->metrics) {
    auto& r = *impl->metrics;
    impl->feature_psi =
        MakeFamily(r, "vigil_feature_psi",
                   "PSI of a model input over the drift window vs the serving model's training reference.");
    impl->feature_ks = MakeFamily(r, "vigil_feature_ks",
                                  "Binned Kolmogorov-Smirnov distance of a model input vs its reference.");
    impl->score_psi = MakeFamily(r, "vigil_score_psi",
                                 "PSI of the model score over the drift window vs its training reference.");
    impl->window_events = MakeFamily(r, "vigil_drift_window_events", "Events in the drift window.");
    impl->last_evaluation = MakeFamily(r, "vigil_drift_last_evaluation_timestamp_seconds",
                                       "When drift and performance were last evaluated (Unix time).");
    impl->average_precision = MakeFamily(r, "vigil_label_average_precision",
                                         "Average precision over the recent days whose labels matured.");
    impl->precision_at_threshold =
        MakeFamily(r, "vigil_label_precision_at_threshold",
                   "Frauds among events scored at or above the review threshold, matured days.");
    impl->recall_at_threshold =
        MakeFamily(r, "vigil_label_recall_at_threshold",
                   "Frauds scored at or above the review threshold among all frauds, matured days.");
    impl->segment_average_precision = MakeFamily(r, "vigil_label_segment_average_precision",
                                                 "Average precision of one segment, matured days.");
    impl->segment_precision = MakeFamily(r, "vigil_label_segment_precision_at_threshold",
                                         "Precision at the review threshold of one segment, matured days.");
    impl->segment_recall = MakeFamily(r, "vigil_label_segment_recall_at_threshold",
                                      "Recall at the review threshold of one segment, matured days.");
    impl->segment_underserved =
        MakeFamily(r, "vigil_label_segment_underserved",
                   "1 when the segment's precision or recall at the review threshold is below "
                   "underserved_ratio times the overall figure, matured days.");
    impl->card_precision = MakeFamily(r, "vigil_label_card_precision_at_k",
                                      "Card precision@k per day, averaged over the matured window.");
    impl->drift_detected =
        MakeFamily(r, "vigil_performance_drift_detected",
                   "1 once the change detector saw the daily card precision drop for this model version.");
    impl->last_evaluation_series = &impl->last_evaluation->Add({{"pipeline", impl->pipeline}});
  }
  if (spec.performance) {
    monitor::LabelWindowOptions o;
    o.window_days = spec.window_days;
    o.label_delay_days = spec.label_delay_days;
    o.review_threshold = review_threshold;
    o.top_k = spec.top_k;
    VIGIL_RETURN_IF_ERROR(monitor::LabelWindow::Make(o).status());  // validates the options now
  }
  if (spec.segments.enabled) {
    if (!spec.performance) return base::InvalidArgument("monitor segments need `performance:`");
    VIGIL_ASSIGN_OR_RETURN(MonitorSegments segments, MonitorSegments::Make(spec.segments));
    impl->segments = std::make_unique<MonitorSegments>(std::move(segments));
  }
  return std::unique_ptr<ScoreMonitor>(new ScoreMonitor(spec, std::move(impl)));
}

ScoreMonitor::ScoreMonitor(const config::MonitorSpec& spec, std::unique_ptr<Impl> impl)
    : spec_(spec), impl_(std::move(impl)) {}

ScoreMonitor::~ScoreMonitor() {
  if (impl_->metrics) {
    impl_->RemoveSeries();
    impl_->last_evaluation->Remove(impl_->last_evaluation_series);
  }
}

void ScoreMonitor::SwitchTo(const models::ModelVersion& model) {
  Impl& m = *impl_;
  if (m.version == model.version) return;
  if (m.metrics) m.RemoveSeries();
  m.version = model.version;
  ++m.generation;
  m.matured.clear();
  m.psi_signaled.clear();
  m.over_since_ms.clear();
  m.checked_at_events = 0;
  m.drift.reset();
  auto reference = monitor::LoadVersionReference(m.registry, model.version);
  if (!reference.ok()) {
    spdlog::warn("model {}: no drift monitoring ({})", model.version, reference.status().message());
  } else {
    monitor::WindowOptions w;
    w.sub_windows = spec_.sub_windows;
    if (spec_.span_ms > 0) {
      w.kind = monitor::WindowKind::kEventTime;
      w.sub_window_ms = spec_.span_ms;
    } else {
      w.kind = monitor::WindowKind::kEventCount;
      w.events_per_sub_window = spec_.events;
    }
    auto drift = monitor::DriftMonitor::Make(*reference, w);
    if (!drift.ok())
      spdlog::warn("model {}: no drift monitoring ({})", model.version, drift.status().message());
    else
      m.drift = std::move(drift).value();
  }
  if (m.metrics) {
    if (m.drift) {
      for (const std::string& f : m.drift->feature_names()) {
        const prometheus::Labels labels{
            {"pipeline", m.pipeline}, {"model_version", m.version}, {"feature", f}};
        m.feature_psi_series.push_back(&m.feature_psi->Add(labels));
        m.feature_ks_series.push_back(&m.feature_ks->Add(labels));
        m.feature_psi_series.back()->Set(std::nan(""));
        m.feature_ks_series.back()->Set(std::nan(""));
      }
      m.VersionGauge(m.score_psi);
      m.VersionGauge(m.window_events);
    }
    if (spec_.performance) {
      m.VersionGauge(m.average_precision);
      m.VersionGauge(m.precision_at_threshold);
      m.VersionGauge(m.recall_at_threshold);
      m.VersionGauge(m.card_precision);
      m.VersionGauge(m.drift_detected)->Set(0);
    }
  }
}

void ScoreMonitor::Observe(const models::ModelVersion& model, std::span<const float> rows,
                           std::span<const float> scores, std::span<const int64_t> times_ms) {
  std::lock_guard lock(mu_);
  SwitchTo(model);
  Impl& m = *impl_;
  for (const int64_t t : times_ms) m.newest_event_ms = std::max(m.newest_event_ms, t);
  if (!m.drift) return;
  if (base::Status st = m.drift->Observe(rows, scores, times_ms); !st.ok()) {
    spdlog::warn("drift monitor: {}", st.message());
    return;
  }
  // Once per sub-window of events (count windows) or per 1000 events (time windows): which PSIs are
  // over the signal's threshold since when, in event time.
  const int64_t every = spec_.span_ms > 0 ? 1000 : spec_.events;
  if (m.drift_signal_psi <= 0 || m.drift->events_observed() - m.checked_at_events < every) return;
  m.checked_at_events = m.drift->events_observed();
  const int64_t in_window = m.drift->score_window().events_in_window();
  if (in_window < DriftSignalEvents()) return;
  const size_t n = m.drift->num_features();
  m.over_since_ms.resize(n + 1, 0);
  for (size_t i = 0; i <= n; ++i) {
    const double psi = i == n ? m.drift->score_window().Psi() : m.drift->feature_window(i).Psi();
    if (!(psi >= m.drift_signal_psi))
      m.over_since_ms[i] = 0;
    else if (m.over_since_ms[i] == 0)
      m.over_since_ms[i] = m.newest_event_ms;
  }
}

int64_t ScoreMonitor::DriftSignalEvents() const {
  // A full window (count windows: every sub-window but the one filling) or at least 1000 events (time
  // windows): a PSI over the first few events is noise.
  return spec_.span_ms > 0 ? 1000 : spec_.events * std::max(1, spec_.sub_windows - 1);
}

void ScoreMonitor::AddOutcomes(const models::ModelVersion& model, std::span<const ScoredEvent> events) {
  if (!spec_.performance || events.empty()) return;
  std::lock_guard lock(mu_);
  SwitchTo(model);
  impl_->matured.insert(impl_->matured.end(), events.begin(), events.end());
}

void ScoreMonitor::IdentifySegmentValues(std::span<ScoredEvent> events, std::span<const std::string> values) {
  if (!impl_->segments) return;
  const size_t columns = impl_->segments->spec().columns.size();
  if (columns == 0 || values.size() != events.size() * columns) return;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < events.size(); ++i)
    for (size_t c = 0; c < columns; ++c)
      events[i].segment_values[c] = impl_->segments->ValueIndex(c, values[i * columns + c]);
}

void ScoreMonitor::EvaluatePerformance(uint64_t generation) {
  Impl& m = *impl_;
  if (m.evaluated_generation != generation || !m.labels) {  // a new version: its own window
    monitor::LabelWindowOptions o;
    o.window_days = spec_.window_days;
    o.label_delay_days = 0;  // the score operator hands over events once their label is due
    o.review_threshold = m.review_threshold;
    o.top_k = spec_.top_k;
    m.labels = monitor::LabelWindow::Make(o).value();
    monitor::PageHinkleyOptions ph;
    ph.lambda = spec_.ph_lambda;
    ph.delta = spec_.ph_delta;
    ph.min_samples = 3;
    m.detector = monitor::PageHinkley::Make(ph).value();
    m.last_detected_day = -1;
    m.alarm = false;
    m.alarm_signaled = false;
    m.evaluated_generation = generation;
  }
  monitor::LabelWindow& w = *m.labels;
  // First times before keys: an earlier event of a card may come in the same swap from another task.
  // The ages are kept across versions: a card's age is the stream's, not the model's.
  if (m.segments)
    for (const ScoredEvent& e : m.evaluating) m.segments->LearnFirstSeen(e.card, e.time_ms);
  for (const ScoredEvent& e : m.evaluating) {
    const monitor::SegmentKey key =
        m.segments ? m.segments->KeyOf(e.card, e.time_ms, e.amount, e.segment_values) : monitor::SegmentKey{};
    if (!w.Record(e.id, e.time_ms, e.card, e.score, e.flagged, key).ok()) continue;
    if (e.label != 0) (void)w.SetLabel(e.id, e.label);
  }
  m.evaluating.clear();
}

std::vector<models::DriftSignal> ScoreMonitor::Export(int64_t wall_ms) {
  std::unique_lock lock(mu_);
  Impl& m = *impl_;
  size_t series = 0;                     // index into version_series, in SwitchTo's order
  std::vector<models::DriftSignal> due;  // drift signals due now
  if (m.drift) {
    const monitor::DriftSnapshot snap = m.drift->Snapshot(wall_ms);
    if (m.drift_signal_psi > 0 && snap.events_in_window >= DriftSignalEvents()) {
      // Each feature (and the score) is latched on its own: signalled when its PSI reaches the
      // threshold, re-armed when it falls back under, so one drifted feature does not hide another.
      const auto& names = m.drift->feature_names();
      m.psi_signaled.resize(snap.feature_psi.size() + 1, false);
      m.over_since_ms.resize(snap.feature_psi.size() + 1, 0);
      std::string reason;
      int64_t since = m.newest_event_ms;  // the earliest crossing among the signalled ones
      for (size_t i = 0; i <= snap.feature_psi.size(); ++i) {
        const bool is_score = i == snap.feature_psi.size();
        const double psi = is_score ? snap.score_psi : snap.feature_psi[i];
        const bool over = psi >= m.drift_signal_psi;
        if (over && !m.psi_signaled[i]) {
          reason += fmt::format("{}{} PSI {:.3f} >= {}", reason.empty() ? "" : "; ",
                                is_score ? "score" : names[i], psi, m.drift_signal_psi);
          if (m.over_since_ms[i] > 0) since = std::min(since, m.over_since_ms[i]);
        }
        m.psi_signaled[i] = over;
      }
      if (!reason.empty()) due.push_back({wall_ms, m.version, std::move(reason), since});
    }
    if (m.metrics) {
      for (size_t i = 0; i < snap.feature_psi.size(); ++i) {
        m.feature_psi_series[i]->Set(snap.feature_psi[i]);
        m.feature_ks_series[i]->Set(snap.feature_ks[i]);
      }
      m.version_series[series++].second->Set(snap.score_psi);
      m.version_series[series++].second->Set(static_cast<double>(snap.events_in_window));
    }
  }
  // Performance: only the swap of the workers' new records happens under the mutex; recording them,
  // the evaluation (sorts over every matured record) and the signal files happen without it.
  const bool performance = spec_.performance && !m.version.empty();
  const uint64_t generation = m.generation;
  const std::string version = m.version;
  const int64_t newest_event_ms = m.newest_event_ms;
  if (performance) {
    m.evaluating.swap(m.matured);
    // Every value index of the swapped events has its name now.
    if (m.segments) m.dimensions = m.segments->Dimensions();
  }
  lock.unlock();
  std::optional<monitor::LabelMetrics> evaluated;
  std::optional<models::SegmentReport> segments;
  if (performance) {
    EvaluatePerformance(generation);
    if (auto metrics = m.labels->Evaluate(); metrics.ok()) {
      // Feed each newly matured day's card precision to the detector once.
      for (size_t i = 0; i < metrics->days.size(); ++i) {
        if (metrics->days[i] <= m.last_detected_day) continue;
        m.last_detected_day = metrics->days[i];
        if (m.detector->Update(metrics->card_precision_per_day[i])) {
          m.alarm = true;
          spdlog::warn("model {}: card precision dropped (change detected on day {})", version,
                       metrics->days[i]);
        }
      }
      evaluated = std::move(*metrics);
    }
    if (!m.dimensions.empty()) {
      auto report = m.labels->EvaluateSegments(m.dimensions, spec_.segments.underserved_ratio);
      if (report.ok())
        segments = std::move(*report);
      else
        spdlog::warn("segment evaluation: {}", report.status().message());
    }
    if (m.drift_signal_psi > 0 && m.alarm && !m.alarm_signaled) {
      m.alarm_signaled = true;  // the detector's alarm stays set for the version: signal it once
      due.push_back({wall_ms, version, "card precision dropped (change detector)", newest_event_ms});
    }
  }
  lock.lock();
  // The version's series exist as long as it is the monitored one.
  if (evaluated && m.metrics && m.generation == generation) {
    m.version_series[series++].second->Set(evaluated->average_precision);
    m.version_series[series++].second->Set(evaluated->precision_at_threshold);
    m.version_series[series++].second->Set(evaluated->recall_at_threshold);
    m.version_series[series++].second->Set(evaluated->card_precision_at_k);
    m.version_series[series++].second->Set(m.alarm ? 1.0 : 0.0);
  }
  if (segments && m.metrics && m.generation == generation) {
    for (const models::SegmentMetrics& s : segments->segments) {
      std::array<Gauge*, 4>& g = m.SegmentGauges(s.dimension, s.value);
      g[0]->Set(s.average_precision);
      g[1]->Set(s.precision);
      g[2]->Set(s.recall);
      g[3]->Set(s.underserved ? 1.0 : 0.0);
    }
  }
  if (m.metrics) m.last_evaluation_series->Set(static_cast<double>(wall_ms) / 1000.0);
  return due;
}

}  // namespace vigil::operators
