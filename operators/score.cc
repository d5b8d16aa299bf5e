#include "operators/score.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>

#include "base/time.h"
#include "engine/row_encoder.h"
#include "models/registry.h"
#include "operators/feature_log.h"
#include "operators/pending_outcomes.h"
#include "operators/score_monitor.h"
#include "operators/serving.h"

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
  // Outcomes on delayed labels: scored events wait in the task's state (PendingOutcomes) until their
  // label is due, then go to the outcomes topic, the monitor, the judge and the feature log with it,
  // in (due time, offset) order.
  engine::LabelIndex* labels = nullptr;
  int32_t partition = -1;  //!< The task's input partition.
  FeatureLog* log = nullptr;
  engine::OutBatch* side = nullptr;  //!< The stage's side output: the outcomes topic.
  std::unique_ptr<PendingOutcomes> pending;
  std::vector<OutcomeView> views;     //!< The batch's matured outcomes.
  std::vector<ScoredEvent> matured;   //!< The same, labelled.
  std::vector<std::string> versions;  //!< Their versions (the feature log's rows point here).
  std::vector<LogRow> log_rows;
  std::vector<std::string> segment_text;  //!< Segment column values, row-major.
  void Flush() override {
    if (pending) pending->Flush();
    if (log != nullptr) (void)log->Flush();  // a failed flush shows at the next Append
  }
};

class ScoreOperator final : public engine::Operator {
 public:
  ScoreOperator(std::string name, config::ScoreSpec spec, std::vector<int> feature_columns, int score,
                int decision, int version, int reasons, std::shared_ptr<ServingLink> link)
      : Operator(std::move(name)),
        spec_(std::move(spec)),
        feature_columns_(std::move(feature_columns)),
        score_(score),
        decision_(decision),
        version_(version),
        reasons_(reasons),
        review_threshold_(spec_.review_threshold.value_or(spec_.threshold)),
        mode_(spec_.reason_mode == "exact" ? models::ExplainMode::kExact : models::ExplainMode::kApproximate),
        link_(std::move(link)),
        monitor_(link_->monitor()) {}

  base::Result<std::unique_ptr<engine::OperatorState>> MakeState(
      const engine::TaskContext& ctx) const override {
    auto state = std::make_unique<ScoreState>();
    state->labels = ctx.labels;
    state->partition = ctx.partition;
    state->log = log_.get();
    state->side = ctx.side_output;
    if (track_outcomes_ && ctx.labels != nullptr)
      state->pending =
          std::make_unique<PendingOutcomes>(ctx.store, table_, feature_columns_.size(),
                                            int64_t{spec_.monitor.label_delay_days} * base::kMsPerDay);
    return std::unique_ptr<engine::OperatorState>(std::move(state));
  }

  //! The feature log (may be null), set once by the factory, before any batch. `id_column`/
  //! `card_column` are needed when outcomes are tracked; `amount_column` (-1: none) and
  //! `segment_columns` feed the monitor's performance segments.
  void set_outcomes(std::shared_ptr<FeatureLog> log, engine::TableId table, int id_column, int card_column,
                    int amount_column, std::vector<int> segment_columns, bool to_topic) {
    log_ = std::move(log);
    table_ = table;
    id_column_ = id_column;
    card_column_ = card_column;
    amount_column_ = amount_column;
    if (monitor_ != nullptr) segment_columns_ = std::move(segment_columns);
    track_outcomes_ = log_ != nullptr || link_->collects_trial_outcomes() ||
                      (monitor_ != nullptr && monitor_->tracks_performance()) || to_topic;
  }

  base::Status Process(engine::Batch& batch, engine::OperatorState* s) const override {
    auto* st = static_cast<ScoreState*>(s);
    // One snapshot for the whole batch: a promotion or a trial takes effect at the next batch.
    const std::shared_ptr<const Serving> serving = link_->Load();
    const std::shared_ptr<const ModelVersion>& model = serving->champion;
    const ServingTrial* trial = serving->trial.get();
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
      VIGIL_RETURN_IF_ERROR(Outcomes(batch, model, trial, st));
    return base::Status::OK();
  }

  // Labels that arrived while no event did: the outcomes now due go out (operator.h rule 5).
  base::Status LabelsAdvanced(engine::OperatorState* s, int64_t event_time) const override {
    auto* st = static_cast<ScoreState*>(s);
    if (st == nullptr || st->pending == nullptr) return base::Status::OK();
    return Mature(event_time, *link_->Load()->champion, st);
  }

 private:
  base::Status Outcomes(const engine::Batch& batch, const std::shared_ptr<const ModelVersion>& model,
                        const ServingTrial* trial, ScoreState* st) const {
    st->times.clear();
    int64_t now = INT64_MIN;
    for (size_t row : st->rows) {
      st->times.push_back(batch.meta(row).event_time);
      now = std::max(now, batch.meta(row).event_time);
    }
    if (monitor_) monitor_->Observe(*model, st->inputs, st->scores, st->times);
    if (st->pending == nullptr) return base::Status::OK();
    const size_t width = feature_columns_.size();
    for (size_t i = 0; i < st->rows.size(); ++i) {
      const size_t row = st->rows[i];
      ScoredEvent e{batch.i64(row, id_column_),       st->times[i],
                    batch.i64(row, card_column_),     st->scores[i],
                    st->scores[i] >= spec_.threshold, 0};
      e.offset = batch.meta(row).offset;
      if (amount_column_ >= 0) e.amount = batch.AsDouble(row, amount_column_);
      st->segment_text.resize(segment_columns_.size());
      for (size_t c = 0; c < segment_columns_.size(); ++c) {
        st->segment_text[c].clear();
        AppendCellText(batch, row, segment_columns_[c], &st->segment_text[c]);
      }
      if (trial != nullptr) {
        e.epoch = trial->epoch;
        e.canary = st->canary[i] != 0;
        e.challenger = st->challenger[i];
        if (e.canary) e.champion = st->champion[i];
      }
      const std::string& version = e.canary ? trial->model->version : model->version;
      st->pending->Add(e, version, st->inputs.data() + i * width, st->segment_text);
    }
    return Mature(now, *model, st);
  }

  //! Hands over the outcomes due at `now` (the task's event time): to the outcomes topic (the side
  //! output), or else to the monitor (scored by `model`, the champion), the judge and the feature log.
  base::Status Mature(int64_t now, const ModelVersion& model, ScoreState* st) const {
    const size_t width = feature_columns_.size();
    // An outcome matures once its label is due (delay after its event time) and the task's label
    // stream has been read that far: labels arrive on their own topic and may lag the events.
    now = std::min(now, st->labels->watermark());
    VIGIL_RETURN_IF_ERROR(st->pending->Mature(now, &st->views));
    if (st->views.empty()) return base::Status::OK();
    const size_t n = st->views.size();
    st->matured.resize(n);
    if (st->versions.size() < n) st->versions.resize(n);
    st->log_rows.clear();
    st->segment_text.resize(n * segment_columns_.size());
    for (size_t i = 0; i < n; ++i) {
      const OutcomeView& v = st->views[i];
      ScoredEvent& e = st->matured[i];
      e = v.event;
      e.partition = st->partition;
      VIGIL_ASSIGN_OR_RETURN(const engine::LabelRecord* label, st->labels->Lookup(e.id));
      e.label = label != nullptr && label->At(now) > 0.5 ? 1 : 0;
      st->versions[i].assign(v.version);
      for (size_t c = 0; c < segment_columns_.size(); ++c)
        st->segment_text[i * segment_columns_.size() + c].assign(c < v.num_segments ? v.segments[c] : "null");
      if (log_)
        st->log_rows.push_back(LogRow{e.id, e.time_ms, e.card, e.score, e.label, v.inputs, &st->versions[i],
                                      st->partition, e.offset});
      if (st->side != nullptr) {
        engine::OutRecord r;
        r.key_offset = static_cast<uint32_t>(st->side->buffer.size());
        fmt::format_to(std::back_inserter(st->side->buffer), "{}", e.card);
        r.key_size = static_cast<uint32_t>(st->side->buffer.size()) - r.key_offset;
        r.value_offset = static_cast<uint32_t>(st->side->buffer.size());
        AppendOutcomeJson(v, e.label, st->partition, width, &st->side->buffer);
        r.value_size = static_cast<uint32_t>(st->side->buffer.size()) - r.value_offset;
        r.source_offset = e.offset;
        r.timestamp_ms = e.time_ms;
        st->side->records.push_back(r);
      }
    }
    // Over a group, the lifecycle's leader feeds these from the outcomes topic (operators/serving.h).
    if (link_->group_outcomes()) return base::Status::OK();
    if (!segment_columns_.empty())  // only with a monitor
      monitor_->IdentifySegmentValues(st->matured, st->segment_text);
    if (monitor_) monitor_->AddOutcomes(model, st->matured);
    link_->AddTrialOutcomes(st->matured);
    if (log_) VIGIL_RETURN_IF_ERROR(log_->Append(st->log_rows));
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

  config::ScoreSpec spec_;
  std::vector<int> feature_columns_;
  int score_, decision_, version_, reasons_;
  double review_threshold_;
  models::ExplainMode mode_;
  const std::shared_ptr<ServingLink> link_;  // what to serve; where the trial's outcomes go
  ScoreMonitor* const monitor_;              // link_'s; null without `monitor:` or a lifecycle
  std::shared_ptr<FeatureLog> log_;          // null without `feature_log:`; also the link's
  bool track_outcomes_ = false;              // events wait for their labels (performance, trial or log)
  engine::TableId table_ = 0;                // where the pending outcomes live in each task's store
  int id_column_ = -1, card_column_ = -1;
  int amount_column_ = -1;            // the monitor's amount bands; -1: none
  std::vector<int> segment_columns_;  // the monitor's categorical segment columns (with a monitor)
};

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeScore(engine::BindContext& ctx,
                                                          ScoreLifecycle* lifecycle) {
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
  std::shared_ptr<FeatureLog> log;
  if (!spec.feature_log.empty()) {
    auto made = FeatureLog::Make(spec.feature_log, ctx.pipeline.labels.id, ctx.pipeline.schema.event_time,
                                 spec.monitor.card, features);
    if (!made.ok()) return config::ConfigError(ctx.spec.loc, made.status().message());
    log = std::move(made).value();
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
  // Without a lifecycle the champion loaded here serves for good: nothing to monitor, no trial.
  auto link = std::make_shared<ServingLink>(std::move(*model), lifecycle ? std::move(monitor) : nullptr,
                                            lifecycle != nullptr && spec.rollout.enabled);
  link->set_feature_log(log);
  if (lifecycle != nullptr)
    VIGIL_RETURN_IF_ERROR(lifecycle->Attach(
        {spec, ctx.spec.loc, features, ctx.pipeline.name, ctx.metrics, &ctx.pipeline}, link));
  auto op = std::make_unique<ScoreOperator>(ctx.spec.name, spec, std::move(columns), *score, *decision,
                                            *version, *reasons, std::move(link));
  // Matured outcomes go to the outcomes topic, written with the stage's outputs (engine side output).
  const bool to_topic = id >= 0 && ctx.pipeline.source.kind == config::SourceSpec::Kind::kKafka;
  if (to_topic) ctx.side_output = spec.outcomes;
  op->set_outcomes(std::move(log), ctx.table, id, card, amount, std::move(segment_columns), to_topic);
  return std::unique_ptr<engine::Operator>(std::move(op));
}

}  // namespace vigil::operators
