#include "operators/score.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "base/time.h"
#include "engine/row_encoder.h"
#include "models/registry.h"
#include "models/runs.h"
#include "operators/feature_log.h"
#include "operators/rollout_judge.h"
#include "operators/score_monitor.h"

namespace vigil::operators {
namespace {

using models::ModelVersion;

//! A cell as segment value text: as `vigil replay` writes it to CSV (a string unquoted), `null` when
//! missing, so the same segment has the same value live and in `vigil evaluate`.
void AppendCellText(const engine::Batch& batch, size_t row, int c, std::string* out) {
  if (batch.is_null(row, c)) {
    out->append("null");
    return;
  }
  switch (batch.schema().column(c).type) {
    case config::FieldType::kString:
      out->append(batch.str(row, c));
      break;
    case config::FieldType::kDouble:
      engine::AppendJsonDouble(batch.f64(row, c), out);
      break;
    case config::FieldType::kBool:
      out->append(batch.i64(row, c) != 0 ? "true" : "false");
      break;
    default:
      out->append(std::to_string(batch.i64(row, c)));
  }
}

//! A candidate on trial: immutable, swapped whole (like the champion).
struct Trial {
  std::shared_ptr<const ModelVersion> model;
  uint32_t epoch = 0;   //!< Tags the events scored during this trial.
  bool canary = false;  //!< Canary (the candidate decides for its cards) or shadow.
  double percent = 0;   //!< Canary share of cards.
};

//! Per-task scratch: the batch's feature matrix and scores.
class ScoreState final : public engine::OperatorState {
 public:
  std::vector<float> inputs;
  std::vector<float> scores;      //!< Served scores (the champion's, or the candidate's for canary cards).
  std::vector<float> challenger;  //!< The candidate's scores during a trial.
  std::vector<float> champion;    //!< The champion's scores during a canary (the judge compares both).
  std::vector<uint8_t> canary;    //!< 1 where the candidate decided (canary).
  std::vector<size_t> rows;
  std::vector<float> contributions;  //!< One row's, num_features + 1.
  std::vector<uint32_t> order;       //!< Feature indexes, sorted by |contribution|.
  std::string reasons;               //!< One row's REASONS text.
  std::vector<int64_t> times;        //!< Event times of the scored rows (drift windows).
  // Outcomes on delayed labels: scored events wait here (in arrival order, from pending_head) until
  // their label is due, then go to the monitor and the feature log with it, in event-time order: `due`
  // is a min-heap of (event time, index), so an event that arrived out of order (a stage after a
  // repartition topic sees a terminal's events as fast as each input partition goes) is not held back
  // behind a newer one. pending_inputs holds each pending event's served vector (width floats, same
  // order); settled marks the ones gone, and the settled prefix is compacted away now and then.
  engine::LabelIndex* labels = nullptr;
  FeatureLog* log = nullptr;
  std::vector<ScoredEvent> pending;
  std::vector<std::shared_ptr<const ModelVersion>> pending_models;  //!< The version that decided each.
  std::vector<float> pending_inputs;
  std::vector<uint8_t> settled;
  std::vector<std::pair<int64_t, size_t>> due;
  size_t pending_head = 0;
  std::vector<ScoredEvent> matured;
  std::vector<LogRow> log_rows;
  std::vector<std::string> segment_text;  //!< The batch's segment column values, row-major.
  void Flush() override {
    if (log != nullptr) (void)log->Flush();  // a failed flush shows at the next Append
  }
};

class ScoreOperator final : public engine::Operator {
 public:
  ScoreOperator(std::string name, config::ScoreSpec spec, std::vector<int> feature_columns,
                std::vector<std::string> features, int score, int decision, int version, int reasons,
                std::shared_ptr<const ModelVersion> initial)
      : Operator(std::move(name)),
        spec_(std::move(spec)),
        registry_(spec_.registry),
        feature_columns_(std::move(feature_columns)),
        features_(std::move(features)),
        score_(score),
        decision_(decision),
        version_(version),
        reasons_(reasons),
        review_threshold_(spec_.review_threshold.value_or(spec_.threshold)),
        mode_(spec_.reason_mode == "exact" ? models::ExplainMode::kExact : models::ExplainMode::kApproximate),
        current_(std::move(initial)) {}

  ~ScoreOperator() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }

  base::Result<std::unique_ptr<engine::OperatorState>> MakeState(
      const engine::TaskContext& ctx) const override {
    auto state = std::make_unique<ScoreState>();
    state->labels = ctx.labels;
    state->log = log_.get();
    return std::unique_ptr<engine::OperatorState>(std::move(state));
  }

  //! Drift and performance monitoring, the feature log and the rollout judge (any may be null); set
  //! once by the factory, before any batch; starts the watcher thread. `id_column`/`card_column` are
  //! needed when outcomes are tracked; `amount_column` (-1: none) and `segment_columns` feed the
  //! monitor's performance segments.
  void set_outcomes(std::unique_ptr<ScoreMonitor> monitor, std::unique_ptr<FeatureLog> log,
                    std::unique_ptr<RolloutJudge> judge, int id_column, int card_column, int amount_column,
                    std::vector<int> segment_columns) {
    monitor_ = std::move(monitor);
    log_ = std::move(log);
    judge_ = std::move(judge);
    id_column_ = id_column;
    card_column_ = card_column;
    amount_column_ = amount_column;
    segment_columns_ = std::move(segment_columns);
    track_outcomes_ = log_ != nullptr || judge_ != nullptr || (monitor_ && monitor_->tracks_performance());
    watcher_ = std::thread([this] { Watch(); });  // after the fields it reads are set
  }

  base::Status Process(engine::Batch& batch, engine::OperatorState* s) const override {
    auto* st = static_cast<ScoreState*>(s);
    // One model for the whole batch: a promotion takes effect at the next batch.
    const std::shared_ptr<const ModelVersion> model = current_.load();
    const std::shared_ptr<const Trial> trial = trial_.load();
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
    st->canary.assign(st->rows.size(), 0);
    if (trial) {  // both versions score every event; a canary card gets the candidate's decision
      st->challenger.resize(st->rows.size());
      trial->model->forest->PredictBatch(st->inputs.data(), st->rows.size(), width, st->challenger.data());
      if (trial->canary) {
        st->champion.assign(st->scores.begin(), st->scores.end());  // kept for the judge
        for (size_t i = 0; i < st->rows.size(); ++i) {
          if (!InCanary(batch.i64(st->rows[i], card_column_), trial->percent)) continue;
          st->canary[i] = 1;
          st->scores[i] = st->challenger[i];
        }
      }
    }
    const int explain = batch.mode().explain;
    for (size_t i = 0; i < st->rows.size(); ++i) {
      const size_t row = st->rows[i];
      const ModelVersion& decider = st->canary[i] != 0 ? *trial->model : *model;
      batch.f64(row, score_) = st->scores[i];
      batch.f64(row, decision_) = st->scores[i] >= spec_.threshold ? 1.0 : 0.0;
      batch.SetString(row, version_, decider.version);
      if (decider.explainer == nullptr || spec_.reasons == 0) continue;
      if (explain != 0) {
        Explain(decider, st->inputs.data() + i * width,
                explain == 2 ? models::ExplainMode::kExact : models::ExplainMode::kApproximate, st);
      } else if (st->scores[i] >= review_threshold_) {
        Explain(decider, st->inputs.data() + i * width, mode_, st);
      } else {
        continue;
      }
      batch.SetString(row, reasons_, st->reasons);
    }
    if ((monitor_ || track_outcomes_) && !batch.mode().read_only)
      VIGIL_RETURN_IF_ERROR(Outcomes(batch, model, trial.get(), st));
    return base::Status::OK();
  }

 private:
  base::Status Outcomes(const engine::Batch& batch, const std::shared_ptr<const ModelVersion>& model,
                        const Trial* trial, ScoreState* st) const {
    st->times.clear();
    int64_t now = INT64_MIN;
    for (size_t row : st->rows) {
      st->times.push_back(batch.meta(row).event_time);
      now = std::max(now, batch.meta(row).event_time);
    }
    if (monitor_) monitor_->Observe(*model, st->inputs, st->scores, st->times);
    if (!track_outcomes_ || st->labels == nullptr) return base::Status::OK();
    const size_t width = feature_columns_.size();
    const size_t first_new = st->pending.size();
    st->segment_text.clear();
    for (size_t i = 0; i < st->rows.size(); ++i) {
      const size_t row = st->rows[i];
      ScoredEvent e{batch.i64(row, id_column_),       st->times[i],
                    batch.i64(row, card_column_),     st->scores[i],
                    st->scores[i] >= spec_.threshold, 0};
      e.offset = batch.meta(row).offset;
      if (amount_column_ >= 0) e.amount = batch.AsDouble(row, amount_column_);
      for (int c : segment_columns_) AppendCellText(batch, row, c, &st->segment_text.emplace_back());
      if (trial != nullptr) {
        e.epoch = trial->epoch;
        e.canary = st->canary[i] != 0;
        e.challenger = st->challenger[i];
        if (e.canary) e.champion = st->champion[i];
      }
      st->due.emplace_back(e.time_ms, st->pending.size());
      std::push_heap(st->due.begin(), st->due.end(), std::greater<>());
      st->pending.push_back(e);
      st->pending_models.push_back(e.canary ? trial->model : model);
      st->settled.push_back(0);
    }
    if (!segment_columns_.empty())
      monitor_->IdentifySegmentValues(std::span(st->pending).subspan(first_new), st->segment_text);
    st->pending_inputs.insert(st->pending_inputs.end(), st->inputs.begin(), st->inputs.end());
    // An event is settled once its label is due (delay after its event time) and the task's label
    // stream has been read that far: labels arrive on their own topic and may lag the events.
    const int64_t delay = int64_t{spec_.monitor.label_delay_days} * base::kMsPerDay;
    now = std::min(now, st->labels->watermark());
    st->matured.clear();
    st->log_rows.clear();
    while (!st->due.empty() && st->due.front().first + delay <= now) {
      std::pop_heap(st->due.begin(), st->due.end(), std::greater<>());
      const size_t i = st->due.back().second;
      st->due.pop_back();
      st->settled[i] = 1;
      ScoredEvent& e = st->pending[i];
      VIGIL_ASSIGN_OR_RETURN(const engine::LabelRecord* label, st->labels->Lookup(e.id));
      e.label = label != nullptr && label->At(now) > 0.5 ? 1 : 0;
      st->matured.push_back(e);
      if (log_)
        st->log_rows.push_back(LogRow{e.id, e.time_ms, e.card, e.score, e.label,
                                      st->pending_inputs.data() + i * width, &st->pending_models[i]->version,
                                      batch.partition(), e.offset});
    }
    if (monitor_) monitor_->AddOutcomes(*model, st->matured);
    if (judge_) judge_->AddOutcomes(st->matured);
    if (log_) VIGIL_RETURN_IF_ERROR(log_->Append(st->log_rows));
    while (st->pending_head < st->pending.size() && st->settled[st->pending_head]) ++st->pending_head;
    const size_t head = st->pending_head;
    if (head > 4096 && head * 2 > st->pending.size()) {  // compact, keeping capacity
      const auto cut = static_cast<std::ptrdiff_t>(head);
      st->pending.erase(st->pending.begin(), st->pending.begin() + cut);
      st->pending_models.erase(st->pending_models.begin(), st->pending_models.begin() + cut);
      st->settled.erase(st->settled.begin(), st->settled.begin() + cut);
      st->pending_inputs.erase(st->pending_inputs.begin(),
                               st->pending_inputs.begin() + static_cast<std::ptrdiff_t>(head * width));
      for (auto& d : st->due) d.second -= head;  // every index still due is past the settled prefix
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

  // The watcher thread: every poll_ms, follows CHAMPION (hot swap) and, with `rollout:`, CANDIDATE
  // (starts a trial) and asks the judge for a verdict.
  void Watch() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(spec_.poll_ms), [this] { return stopping_; })) {
      FollowChampion();
      if (!judge_) continue;
      FollowCandidate();
      JudgeTrial();
    }
  }

  void FollowChampion() {
    auto champion = registry_.ReadChampion();
    if (!champion.ok() || *champion == current_.load()->version || *champion == refused_) return;
    auto next = registry_.LoadVersion(*champion, features_);
    if (!next.ok()) {
      spdlog::error("refusing model {}: {} (still serving {})", *champion, next.status().message(),
                    current_.load()->version);
      refused_ = *champion;
      return;
    }
    const std::string previous = current_.load()->version;
    current_.store(*next);
    // Logged once stored: a batch that starts after this line scores with the new version.
    spdlog::info("model {} replaces {}", *champion, previous);
    refused_.clear();
    if (auto trial = trial_.load()) {
      if (trial->model->version == *champion) {
        EndTrial("promoted elsewhere");  // by hand, or by another instance's judge
      } else {
        StartTrial(trial->model);  // the comparison starts again, against the new champion
      }
    }
  }

  void FollowCandidate() {
    auto name = registry_.ReadCandidate();
    const auto trial = trial_.load();
    if (!name.ok()) {
      if (trial) EndTrial("withdrawn");
      return;
    }
    if ((trial && trial->model->version == *name) || *name == refused_candidate_) return;
    if (*name == current_.load()->version) return;
    auto model = registry_.LoadVersion(*name, features_);
    if (!model.ok()) {
      spdlog::error("rollout: refusing candidate {}: {}", *name, model.status().message());
      refused_candidate_ = *name;
      (void)registry_.EndCandidate(*name, models::kRunRejected, "refused: " + model.status().message());
      judge_->Count("refused");
      return;
    }
    StartTrial(*model);
  }

  void StartTrial(std::shared_ptr<const ModelVersion> model) {
    auto trial = std::make_shared<Trial>();
    trial->model = std::move(model);
    trial->epoch = ++epochs_;
    trial->canary = spec_.rollout.mode == "canary";
    trial->percent = spec_.rollout.canary_percent;
    const std::string champion = current_.load()->version;
    judge_->Begin(trial->epoch, trial->model->version, champion);
    spdlog::info(
        "rollout: candidate {} starts as {} against champion {}", trial->model->version,
        trial->canary ? fmt::format("canary on {}% of cards", trial->percent) : std::string("shadow"),
        champion);
    judge_->Count("started");
    trial_.store(std::move(trial));
  }

  void EndTrial(const std::string& why) {
    const auto trial = trial_.load();
    spdlog::info("rollout: trial of {} ended ({})", trial->model->version, why);
    judge_->End();
    trial_.store(nullptr);
  }

  void JudgeTrial() {
    const auto trial = trial_.load();
    if (!trial) return;
    const RolloutVerdict verdict = judge_->Judge();
    if (verdict.kind == RolloutVerdict::Kind::kWait) return;
    const std::string& name = trial->model->version;
    if (verdict.kind == RolloutVerdict::Kind::kPromote) {
      if (base::Status st = registry_.Promote(name, features_, verdict.detail, verdict.Figures()); !st.ok()) {
        spdlog::error("rollout: cannot promote {}: {}", name, st.message());
        (void)registry_.EndCandidate(name, models::kRunRejected, "promotion failed: " + st.message());
        judge_->Count("refused");
      } else {
        current_.store(trial->model);
        spdlog::info("rollout: {} promoted: {}", name, verdict.detail);
        judge_->Count("promoted");
      }
    } else {
      const bool canary = trial->canary;
      (void)registry_.EndCandidate(name, canary ? models::kRunRolledBack : models::kRunRejected,
                                   verdict.detail, verdict.Figures());
      spdlog::warn("rollout: {} {}: {}", name, canary ? "rolled back" : "rejected", verdict.detail);
      judge_->Count(canary ? "rolled_back" : "rejected");
    }
    judge_->End();
    trial_.store(nullptr);
  }

  config::ScoreSpec spec_;
  const models::Registry registry_;  // spec_.registry
  std::vector<int> feature_columns_;
  std::vector<std::string> features_;
  int score_, decision_, version_, reasons_;
  double review_threshold_;
  models::ExplainMode mode_;
  std::unique_ptr<ScoreMonitor> monitor_;  // null without `monitor:`
  std::unique_ptr<FeatureLog> log_;        // null without `feature_log:`
  std::unique_ptr<RolloutJudge> judge_;    // null without `rollout:`
  bool track_outcomes_ = false;            // events wait for their labels (performance or log)
  int id_column_ = -1, card_column_ = -1;
  int amount_column_ = -1;            // the monitor's amount bands; -1: none
  std::vector<int> segment_columns_;  // the monitor's categorical segment columns
  mutable std::atomic<std::shared_ptr<const ModelVersion>> current_;
  mutable std::atomic<std::shared_ptr<const Trial>> trial_;  // null: no candidate on trial
  // The watcher thread's own:
  std::string refused_, refused_candidate_;  // versions that failed to load (not retried)
  uint32_t epochs_ = 0;                      // trials started
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeScore(engine::BindContext& ctx) {
  const auto& spec = std::get<config::ScoreSpec>(ctx.spec.params);
  const auto& features = ctx.pipeline.features;
  if (features.empty())
    return config::ConfigError(ctx.spec.loc, "score needs the pipeline's 'features:' list");
  std::vector<int> columns;
  for (const auto& f : features) {
    const int c = ctx.schema.Find(f);
    if (c < 0) return config::ConfigError(ctx.spec.loc, "feature '" + f + "' is not computed before 'score'");
    columns.push_back(c);
  }
  const models::Registry registry(spec.registry);
  auto champion = registry.ReadChampion();
  if (!champion.ok()) return config::ConfigError(ctx.spec.loc, champion.status().message());
  auto model = registry.LoadVersion(*champion, features);
  if (!model.ok()) return config::ConfigError(ctx.spec.loc, model.status().message());
  auto score = ctx.schema.Add("SCORE", config::FieldType::kDouble);
  auto decision = ctx.schema.Add("DECISION", config::FieldType::kDouble);
  auto version = ctx.schema.Add("MODEL_VERSION", config::FieldType::kString);
  auto reasons = ctx.schema.Add("REASONS", config::FieldType::kString);
  for (const auto* r : {&score, &decision, &version, &reasons})
    if (!r->ok()) return config::ConfigError(ctx.spec.loc, r->status().message());
  auto op = std::make_unique<ScoreOperator>(ctx.spec.name, spec, std::move(columns), features, *score,
                                            *decision, *version, *reasons, *model);
  int id = -1, card = -1;
  if (spec.monitor.performance || !spec.feature_log.empty() || spec.rollout.enabled) {
    if (!ctx.pipeline.labels.enabled)
      return config::ConfigError(
          ctx.spec.loc, "monitor performance, feature_log and rollout need the pipeline's labels: section");
    id = ctx.schema.Find(ctx.pipeline.labels.id);
    card = ctx.schema.Find(spec.monitor.card);
    if (card < 0 || ctx.schema.column(card).type != config::FieldType::kInt64)
      return config::ConfigError(ctx.spec.loc,
                                 "the card column '" + spec.monitor.card + "' must be an int64 column");
  }
  std::unique_ptr<ScoreMonitor> monitor;
  if (spec.monitor.enabled) {
    auto made = ScoreMonitor::Make(spec.monitor, spec.review_threshold.value_or(spec.threshold), registry,
                                   ctx.pipeline.name, ctx.metrics,
                                   spec.retrain.on_drift ? spec.retrain.drift_psi : 0);
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
  std::unique_ptr<RolloutJudge> judge;
  if (spec.rollout.enabled) {
    auto made = RolloutJudge::Make(spec.rollout, spec.monitor.top_k, ctx.pipeline.name, ctx.metrics);
    if (!made.ok()) return config::ConfigError(spec.rollout.loc, made.status().message());
    judge = std::move(made).value();
  }
  int amount = -1;
  std::vector<int> segment_columns;
  if (const config::SegmentsSpec& g = spec.monitor.segments; g.enabled) {
    if (!g.amount_bands.empty()) {
      amount = ctx.schema.Find(g.amount);
      if (amount < 0 || ctx.schema.column(amount).type == config::FieldType::kString)
        return config::ConfigError(g.loc,
                                   "segments: the amount column '" + g.amount + "' must be a numeric column");
    }
    for (const std::string& column : g.columns) {
      const int c = ctx.schema.Find(column);
      if (c < 0)
        return config::ConfigError(g.loc, "segments: no column '" + column + "' before the score operator");
      segment_columns.push_back(c);
    }
  }
  op->set_outcomes(std::move(monitor), std::move(log), std::move(judge), id, card, amount,
                   std::move(segment_columns));
  return std::unique_ptr<engine::Operator>(std::move(op));
}

}  // namespace vigil::operators
