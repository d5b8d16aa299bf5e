#include "operators/score.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "models/registry.h"
#include "operators/feature_log.h"
#include "operators/score_monitor.h"

namespace vigil::operators {
namespace {

using models::ModelVersion;

//! Per-task scratch: the batch's feature matrix and scores.
class ScoreState final : public engine::OperatorState {
 public:
  std::vector<float> inputs;
  std::vector<float> scores;
  std::vector<size_t> rows;
  std::vector<float> contributions;  //!< One row's, num_features + 1.
  std::vector<uint32_t> order;       //!< Feature indexes, sorted by |contribution|.
  std::string reasons;               //!< One row's REASONS text.
  std::vector<int64_t> times;        //!< Event times of the scored rows (drift windows).
  // Outcomes on delayed labels: scored events wait here (oldest first, from pending_head) until
  // their label is due, then go to the monitor and the feature log with it. pending_inputs holds
  // each pending event's served vector (width floats, same order).
  engine::LabelIndex* labels = nullptr;
  FeatureLog* log = nullptr;
  std::vector<ScoredEvent> pending;
  std::vector<std::shared_ptr<const ModelVersion>> pending_models;
  std::vector<float> pending_inputs;
  size_t pending_head = 0;
  std::vector<ScoredEvent> matured;
  std::vector<LogRow> log_rows;
  void Flush() override {
    if (log != nullptr) (void)log->Flush();  // a failed flush shows at the next Append
  }
};

class ScoreOperator final : public engine::Operator {
 public:
  ScoreOperator(std::string name, config::ScoreSpec spec, std::vector<int> feature_columns,
                std::vector<std::string> features, int score, int decision, int version, int reasons,
                std::shared_ptr<const ModelVersion> initial)
      : Operator(std::move(name)), spec_(std::move(spec)), feature_columns_(std::move(feature_columns)),
        features_(std::move(features)), score_(score), decision_(decision), version_(version), reasons_(reasons),
        review_threshold_(spec_.review_threshold.value_or(spec_.threshold)),
        mode_(spec_.reason_mode == "exact" ? models::ExplainMode::kExact : models::ExplainMode::kApproximate),
        current_(std::move(initial)) {
    watcher_ = std::thread([this] { Watch(); });
  }

  ~ScoreOperator() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    watcher_.join();
  }

  base::Result<std::unique_ptr<engine::OperatorState>> MakeState(const engine::TaskContext& ctx) const override {
    auto state = std::make_unique<ScoreState>();
    state->labels = ctx.labels;
    state->log = log_.get();
    return std::unique_ptr<engine::OperatorState>(std::move(state));
  }

  //! Drift and performance monitoring, and the feature log (either may be null); set once by the
  //! factory, before any batch. `id_column`/`card_column` are needed when outcomes are tracked.
  void set_outcomes(std::unique_ptr<ScoreMonitor> monitor, std::unique_ptr<FeatureLog> log, int id_column,
                    int card_column) {
    monitor_ = std::move(monitor);
    log_ = std::move(log);
    id_column_ = id_column;
    card_column_ = card_column;
    track_outcomes_ = log_ != nullptr || (monitor_ && monitor_->tracks_performance());
  }

  base::Status Process(engine::Batch& batch, engine::OperatorState* s) const override {
    auto* st = static_cast<ScoreState*>(s);
    // One model for the whole batch: a promotion takes effect at the next batch.
    const std::shared_ptr<const ModelVersion> model = current_.load();
    const size_t width = feature_columns_.size();
    st->rows.clear();
    st->inputs.clear();
    for (size_t row = 0; row < batch.size(); ++row) {
      if (!batch.live(row)) continue;
      st->rows.push_back(row);
      for (int c : feature_columns_) st->inputs.push_back(static_cast<float>(batch.AsDouble(row, c)));
    }
    st->scores.resize(st->rows.size());
    model->forest->PredictBatch(st->inputs.data(), st->rows.size(), width, st->scores.data());
    const int explain = batch.mode().explain;
    for (size_t i = 0; i < st->rows.size(); ++i) {
      const size_t row = st->rows[i];
      batch.f64(row, score_) = st->scores[i];
      batch.f64(row, decision_) = st->scores[i] >= spec_.threshold ? 1.0 : 0.0;
      batch.SetString(row, version_, model->version);
      if (model->explainer == nullptr || spec_.reasons == 0) continue;
      if (explain != 0) {
        Explain(*model, st->inputs.data() + i * width,
                explain == 2 ? models::ExplainMode::kExact : models::ExplainMode::kApproximate, st);
      } else if (st->scores[i] >= review_threshold_) {
        Explain(*model, st->inputs.data() + i * width, mode_, st);
      } else {
        continue;
      }
      batch.SetString(row, reasons_, st->reasons);
    }
    if ((monitor_ || track_outcomes_) && !batch.mode().read_only) VIGIL_RETURN_IF_ERROR(Outcomes(batch, model, st));
    return base::Status::OK();
  }

 private:
  base::Status Outcomes(const engine::Batch& batch, const std::shared_ptr<const ModelVersion>& model,
                        ScoreState* st) const {
    st->times.clear();
    int64_t now = INT64_MIN;
    for (size_t row : st->rows) {
      st->times.push_back(batch.meta(row).event_time);
      now = std::max(now, batch.meta(row).event_time);
    }
    if (monitor_) monitor_->Observe(*model, st->inputs, st->scores, st->times);
    if (!track_outcomes_ || st->labels == nullptr) return base::Status::OK();
    const size_t width = feature_columns_.size();
    for (size_t i = 0; i < st->rows.size(); ++i) {
      const size_t row = st->rows[i];
      st->pending.push_back(ScoredEvent{batch.i64(row, id_column_), st->times[i], batch.i64(row, card_column_),
                                        st->scores[i], st->scores[i] >= spec_.threshold, 0});
      st->pending_models.push_back(model);
    }
    st->pending_inputs.insert(st->pending_inputs.end(), st->inputs.begin(), st->inputs.end());
    // An event is settled once its label is due (delay after its event time) and the task's label
    // stream has been read that far: labels arrive on their own topic and may lag the events.
    const int64_t delay = int64_t{spec_.monitor.label_delay_days} * 86'400'000;
    now = std::min(now, st->labels->watermark());
    st->matured.clear();
    st->log_rows.clear();
    while (st->pending_head < st->pending.size() && st->pending[st->pending_head].time_ms + delay <= now) {
      const size_t i = st->pending_head++;
      ScoredEvent& e = st->pending[i];
      VIGIL_ASSIGN_OR_RETURN(const engine::LabelRecord* label, st->labels->Lookup(e.id));
      e.label = label != nullptr && label->time_ms <= now && label->label > 0.5 ? 1 : 0;
      st->matured.push_back(e);
      if (log_)
        st->log_rows.push_back(LogRow{e.id, e.time_ms, e.card, e.score, e.label, st->pending_inputs.data() + i * width,
                                      &st->pending_models[i]->version});
    }
    if (monitor_) monitor_->AddOutcomes(*model, st->matured);
    if (log_) VIGIL_RETURN_IF_ERROR(log_->Append(st->log_rows));
    const size_t head = st->pending_head;
    if (head > 4096 && head * 2 > st->pending.size()) {  // compact, keeping capacity
      st->pending.erase(st->pending.begin(), st->pending.begin() + static_cast<std::ptrdiff_t>(head));
      st->pending_models.erase(st->pending_models.begin(), st->pending_models.begin() + static_cast<std::ptrdiff_t>(head));
      st->pending_inputs.erase(st->pending_inputs.begin(),
                               st->pending_inputs.begin() + static_cast<std::ptrdiff_t>(head * width));
      st->pending_head = 0;
    }
    return base::Status::OK();
  }

  // Writes the row's top-k reasons to st->reasons: "FEATURE:+0.1234;FEATURE:-0.0567", in margin units,
  // largest |contribution| first.
  void Explain(const ModelVersion& model, const float* row, models::ExplainMode mode, ScoreState* st) const {
    const size_t n = model.explainer->num_features();
    st->contributions.resize(n + 1);
    model.explainer->Contributions(row, mode, st->contributions.data());
    st->order.resize(n);
    for (uint32_t f = 0; f < n; ++f) st->order[f] = f;
    const size_t k = std::min<size_t>(static_cast<size_t>(spec_.reasons), n);
    const float* c = st->contributions.data();
    std::partial_sort(st->order.begin(), st->order.begin() + static_cast<std::ptrdiff_t>(k), st->order.end(),
                      [c](uint32_t a, uint32_t b) {
                        const float x = std::fabs(c[a]), y = std::fabs(c[b]);
                        return x > y || (x == y && a < b);
                      });
    st->reasons.clear();
    for (size_t j = 0; j < k; ++j) {
      const uint32_t f = st->order[j];
      if (j > 0) st->reasons.push_back(';');
      st->reasons += model.features[f];
      char num[32];
      const int len = std::snprintf(num, sizeof num, ":%+.4f", static_cast<double>(c[f]));
      st->reasons.append(num, static_cast<size_t>(len));
    }
  }

  void Watch() {
    std::string refused;
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(spec_.poll_ms), [this] { return stopping_; })) {
      auto champion = models::ReadChampion(spec_.registry);
      if (!champion.ok() || *champion == current_.load()->version || *champion == refused) continue;
      auto next = models::LoadVersion(spec_.registry, *champion, features_);
      if (!next.ok()) {
        spdlog::error("refusing model {}: {} (still serving {})", *champion, next.status().message(),
                      current_.load()->version);
        refused = *champion;
        continue;
      }
      spdlog::info("model {} replaces {}", *champion, current_.load()->version);
      current_.store(*next);
      refused.clear();
    }
  }

  config::ScoreSpec spec_;
  std::vector<int> feature_columns_;
  std::vector<std::string> features_;
  int score_, decision_, version_, reasons_;
  double review_threshold_;
  models::ExplainMode mode_;
  std::unique_ptr<ScoreMonitor> monitor_;  // null without `monitor:`
  std::unique_ptr<FeatureLog> log_;        // null without `feature_log:`
  bool track_outcomes_ = false;            // events wait for their labels (performance or log)
  int id_column_ = -1, card_column_ = -1;
  mutable std::atomic<std::shared_ptr<const ModelVersion>> current_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeScore(engine::BindContext& ctx) {
  const auto& spec = std::get<config::ScoreSpec>(ctx.spec.params);
  const auto& features = ctx.pipeline.features;
  if (features.empty()) return config::ConfigError(ctx.spec.loc, "score needs the pipeline's 'features:' list");
  std::vector<int> columns;
  for (const auto& f : features) {
    const int c = ctx.schema.Find(f);
    if (c < 0) return config::ConfigError(ctx.spec.loc, "feature '" + f + "' is not computed before 'score'");
    columns.push_back(c);
  }
  auto champion = models::ReadChampion(spec.registry);
  if (!champion.ok()) return config::ConfigError(ctx.spec.loc, champion.status().message());
  auto model = models::LoadVersion(spec.registry, *champion, features);
  if (!model.ok()) return config::ConfigError(ctx.spec.loc, model.status().message());
  auto score = ctx.schema.Add("SCORE", config::FieldType::kDouble);
  auto decision = ctx.schema.Add("DECISION", config::FieldType::kDouble);
  auto version = ctx.schema.Add("MODEL_VERSION", config::FieldType::kString);
  auto reasons = ctx.schema.Add("REASONS", config::FieldType::kString);
  for (const auto* r : {&score, &decision, &version, &reasons})
    if (!r->ok()) return config::ConfigError(ctx.spec.loc, r->status().message());
  auto op = std::make_unique<ScoreOperator>(ctx.spec.name, spec, std::move(columns), features, *score, *decision,
                                            *version, *reasons, *model);
  int id = -1, card = -1;
  if (spec.monitor.performance || !spec.feature_log.empty()) {
    if (!ctx.pipeline.labels.enabled)
      return config::ConfigError(ctx.spec.loc, "monitor performance and feature_log need the pipeline's labels: section");
    id = ctx.schema.Find(ctx.pipeline.labels.id);
    card = ctx.schema.Find(spec.monitor.card);
    if (card < 0 || ctx.schema.column(card).type != config::FieldType::kInt64)
      return config::ConfigError(ctx.spec.loc, "the card column '" + spec.monitor.card + "' must be an int64 column");
  }
  std::unique_ptr<ScoreMonitor> monitor;
  if (spec.monitor.enabled) {
    auto made = ScoreMonitor::Make(spec.monitor, spec.review_threshold.value_or(spec.threshold), spec.registry,
                                   ctx.pipeline.name, ctx.metrics);
    if (!made.ok()) return config::ConfigError(spec.monitor.loc, made.status().message());
    monitor = std::move(made).value();
  }
  std::unique_ptr<FeatureLog> log;
  if (!spec.feature_log.empty()) {
    auto made = FeatureLog::Make(spec.feature_log, ctx.pipeline.labels.id, ctx.pipeline.schema.event_time,
                                 spec.monitor.card, features);
    if (!made.ok()) return config::ConfigError(ctx.spec.loc, made.status().message());
    log = std::move(made).value();
  }
  op->set_outcomes(std::move(monitor), std::move(log), id, card);
  return std::unique_ptr<engine::Operator>(std::move(op));
}

}  // namespace vigil::operators
