// The reference of the `operators` entries and of the score operator's subsections. Each default is
// read from a default-constructed spec; only defaults computed at load time are written as text.
#include "config/pipeline_config.h"
#include "config/reference_sections.h"

namespace vigil::config {
namespace {

KeyDoc TypeKey(std::string_view type) {
  return {"type", "`" + std::string(type) + "`", "required", "The operator type."};
}

KeyDoc NameKey() {
  return {"name", "string", "`<type>-<index>`",
          "Unique among the operators; names the operator's state. The default's index is the entry's "
          "0-based position in `operators`."};
}

SectionDoc DeriveOperatorDoc() {
  return {
      Section::kDeriveOperator,
      "operators[]",
      "`operators[]` with `type: derive`",
      "Stateless column functions: calendar parts of a timestamp, arithmetic and comparisons.",
      {TypeKey("derive"),
       NameKey(),
       {"outputs", "list of mappings", "required", "One computed column per entry: see the next table."}}};
}

SectionDoc DeriveOutputDoc() {
  return {Section::kDeriveOutput,
          "operators[].outputs[]",
          "`operators[].outputs[]` of a `derive`",
          "One computed column, always a double. `hour_of_day(ts)` 0–23, `day_of_week(ts)` Monday = 0, "
          "`is_weekend(ts)` 1/0; `add`, `sub`, `mul`, `div` (a, b); `lt`, `le`, `gt`, `ge`, `eq` (a, b) "
          "give 1/0. NaN in, NaN out; x/0 is NaN.",
          {
              {"name", "string", "required", "The new column's name."},
              {"fn", "string", "required", "The function, one of those above."},
              {"args", "list of strings", "none",
               "The operands, in order: each a column name or a number. One for the calendar functions, two "
               "for the others."},
          }};
}

SectionDoc WindowOperatorDoc() {
  const WindowSpec w;
  const WindowOutputSpec o;
  return {
      Section::kWindowOperator,
      "operators[]",
      "`operators[]` with `type: window`",
      "Keyed event-time sliding windows with exact semantics. For an event at time t, an output with "
      "window w and delay d aggregates its key's events with time in (t − d − w, t − d]: with d = 0 "
      "the current event is included. Events with equal times count in arrival order.",
      {TypeKey("window"),
       NameKey(),
       {"key", "string or list of strings", "required",
        "The key column: each value (a card, a terminal) has its own windows. A list of 2 to 4 columns is a "
        "composite key (`[CUSTOMER_ID, TERMINAL_ID]`: card × terminal), with windows per combination of "
        "values. "
        "Key columns are strings or integers. Over several partitions, a window runs in the current stage "
        "when "
        "its key includes that stage's key (at first `source.key`); otherwise a new stage starts, "
        "repartitioned by the key's first column."},
       {"lateness", "duration", DocDuration(w.lateness_ms),
        "An event older than its key's latest by more than this is dead-lettered `late` and changes "
        "nothing. After a repartition, it must cover the disorder between partitions."},
       {"delay", "duration", DocDuration(o.delay_ms), "The `delay` of the outputs that give none."},
       {"outputs", "list of mappings", "required", "One aggregate column per entry: see the next table."}}};
}

SectionDoc WindowOutputDoc() {
  return {Section::kWindowOutput,
          "operators[].outputs[]",
          "`operators[].outputs[]` of a `window`",
          "One aggregate column, over the window's events and NaN values skipped: `count`; `sum`, `avg`, "
          "`min`, `max` of a field (`avg`, `min` and `max` of nothing are NaN); `ratio` = sum(field) / "
          "sum(denominator), or / count without a denominator, 0 when the divisor is 0; `stddev`, the "
          "population standard deviation (ddof 0, as pandas' `rolling(w).std(ddof=0)`): 0 for one value or "
          "equal values, NaN for none; `zscore` = (the current event's value − avg) / stddev, 0 when stddev "
          "is 0, NaN when the window has no value or the current value is NaN; `distinct`, the number of "
          "distinct values; `ratio_to_sum`, `ratio_to_avg`, `ratio_to_min`, `ratio_to_max` = the current "
          "event's value / that aggregate, NaN when it is 0 or NaN; `time_since_last`, the milliseconds from "
          "the key's previous event (the latest at or before this one in event time, however old; an "
          "earlier twin gives 0) to this one, NaN for its first event, with no window; `last`, the field's "
          "value at the window's newest event where it is known (of `$label`: the label of the newest "
          "event whose label is known), NaN for none. With delay 0 the window includes the current event.",
          {
              {"name", "string", "required", "The new column's name."},
              {"agg",
               "`count` | `sum` | `avg` | `min` | `max` | `ratio` | `stddev` | `zscore` | `distinct` | "
               "`ratio_to_sum` | `ratio_to_avg` | `ratio_to_min` | `ratio_to_max` | `time_since_last` | "
               "`last`",
               "required", "The aggregate."},
              {"field", "string", "none",
               "The value column (a number), or `$label` for the joined label (needs `labels`); every "
               "aggregate but `count` and `time_since_last` needs it. `zscore` and `ratio_to_*` read the "
               "current event's value, so not `$label`."},
              {"denominator", "string", "none",
               "`ratio` only: the column whose sum divides sum(field); none: the count divides it."},
              {"where", "string", "none",
               "A numeric column (e.g. a 0/1 flag from `derive`): only the window's events where it is "
               "nonzero count, as SQL's `FILTER (WHERE ...)`. `count` counts them; every other aggregate "
               "reads only their values (`ratio` without a denominator divides by their count). "
               "`zscore` and `ratio_to_*` still compare the current event's own value, whether it passes "
               "or not. `time_since_last` takes none."},
              {"window", "duration", "required",
               "The window's length, w; positive. `time_since_last` takes none."},
              {"delay", "duration", "the operator's `delay`",
               "Shift of the window into the past, d: e.g. a label delay, so that the window sees only "
               "events whose labels are known. `time_since_last` takes none."},
          }};
}

SectionDoc ScoreOperatorDoc() {
  const ScoreSpec s;
  return {
      Section::kScoreOperator,
      "operators[]",
      "`operators[]` with `type: score`",
      "The registry's champion model scores the pipeline's `features` and writes the columns `SCORE`, "
      "`DECISION` (`SCORE` ≥ threshold), `MODEL_VERSION` and `REASONS`. A promoted version is loaded and "
      "verified off the hot path and swapped in between batches.",
      {TypeKey("score"),
       NameKey(),
       {"registry", "string", "required",
        "The models directory, relative to the pipeline file's folder; it needs a champion at start-up."},
       {"threshold", "number", DocNumber(s.threshold), "`DECISION` is 1 when `SCORE` ≥ threshold."},
       {"poll", "duration", DocDuration(s.poll_ms),
        "How often the registry's `CHAMPION` is checked for a promotion; at least `10ms`."},
       {"review_threshold", "number", "`threshold`", "Decisions with `SCORE` ≥ this carry `REASONS`."},
       {"reasons", "integer", DocInt(s.reasons),
        "Reason codes per flagged decision (the top feature contributions), 0..64; 0: none."},
       {"reason_mode", "`approximate` | `exact`", DocString(s.reason_mode),
        "How contributions are computed: Saabas, about one prediction's cost, or TreeSHAP (libxgboost's "
        "`pred_contribs`)."},
       {"monitor", "mapping", "off", "Drift and delayed-label performance gauges."},
       {"feature_log", "string", DocString(s.feature_log),
        "CSV file (relative to the pipeline file's folder) that receives, once each event's label is "
        "due (`monitor.performance.label_delay_days` after its event time), the vector served for it, "
        "its score, model version and label: the training table of `retrain`."},
       {"outcomes", "string", "`<group>.<topic>.outcomes`",
        "Kafka topic that receives each matured outcome as JSON (the vector served, score, version, "
        "trial and label, once the label is due), in the same transaction as the events that matured "
        "it. Pending outcomes live in the task's state (changelogged), so a restart or a rebalance "
        "loses none. Written when outcomes are tracked (`monitor.performance`, `feature_log` or "
        "`rollout`) and the source is Kafka; created if absent (any partition count will do). Over several "
        "instances, the group's leader reads it to judge, monitor performance and log features for the "
        "whole group."},
       {"retrain", "mapping", "off", "Background retraining from `feature_log`."},
       {"rollout", "mapping", "off", "Shadow or canary trial of candidate versions."}}};
}

SectionDoc MonitorDoc() {
  const MonitorSpec m;
  return {Section::kMonitor,
          "operators[].monitor",
          "`operators[].monitor` of a `score`",
          "When the section is present, the operator watches the drift of the model's inputs and score "
          "against the reference histograms "
          "stored with the serving version (PSI, KS), and optionally its performance on delayed labels; "
          "exported as Prometheus gauges.",
          {
              {"drift", "mapping", "its keys' defaults", "The sliding window over which drift is measured."},
              {"every", "duration", DocDuration(m.every_ms),
               "How often the gauges are recomputed (wall clock); at least `100ms`."},
              {"performance", "mapping", "off", "Performance on delayed labels; needs `labels`."},
          }};
}

SectionDoc MonitorDriftDoc() {
  const MonitorSpec m;
  return {Section::kMonitorDrift,
          "operators[].monitor.drift",
          "`operators[].monitor.drift`",
          "The drift window slides by sub-windows, each of `events` events or of `span` of event time "
          "(give one of the two).",
          {
              {"events", "integer", DocInt(m.events), "Events per sub-window; at least 1."},
              {"span", "duration", DocDuration(m.span_ms),
               "Event time per sub-window instead, e.g. `1h`; 0: count `events`."},
              {"sub_windows", "integer", DocInt(m.sub_windows), "Sub-windows in the window, 1..1024."},
          }};
}

SectionDoc MonitorPerformanceDoc() {
  const MonitorSpec m;
  return {Section::kMonitorPerformance,
          "operators[].monitor.performance",
          "`operators[].monitor.performance`",
          "When the section is present, the monitor computes average precision, precision at the review "
          "threshold and card precision@k "
          "over the recent matured days, with a Page-Hinkley detector on the daily card precision whose "
          "alarm sets `vigil_performance_drift_detected`.",
          {
              {"window_days", "integer", DocInt(m.window_days), "Matured days evaluated; at least 1."},
              {"label_delay_days", "integer", DocInt(m.label_delay_days),
               "Days after which a day's labels are complete; 0 or more. Also when `feature_log` rows are "
               "written and rollout days mature."},
              {"top_k", "integer", DocInt(m.top_k), "The k of card precision@k; at least 1."},
              {"card", "string", DocString(m.card), "The card (customer) column."},
              {"ph_lambda", "number", DocNumber(m.ph_lambda), "Page-Hinkley alarm threshold (lambda)."},
              {"ph_delta", "number", DocNumber(m.ph_delta), "Page-Hinkley tolerated change (delta)."},
              {"segments", "mapping", "off", "The same figures per segment of the traffic."},
          }};
}

//! A list of numbers as the reference shows it.
std::string DocNumbers(const std::vector<double>& values) {
  std::string out;
  for (double v : values) out += (out.empty() ? "" : ", ") + DocNumber(v).substr(1, DocNumber(v).size() - 2);
  return "`[" + out + "]`";
}

SectionDoc MonitorSegmentsDoc() {
  const SegmentsSpec g;
  return {Section::kMonitorSegments,
          "operators[].monitor.performance.segments",
          "`operators[].monitor.performance.segments`",
          "When the section is present, the monitor also computes average precision, and precision and "
          "recall at the review threshold, per segment of the matured traffic (new vs established cards, "
          "amount bands, the values of categorical columns), exported as `vigil_label_segment_*` gauges "
          "labelled `segment` and `value`. A segment whose precision or recall falls below "
          "`underserved_ratio` × the overall figure sets `vigil_label_segment_underserved` (alert "
          "`VigilSegmentUnderserved`). `vigil evaluate` uses the same settings by default.",
          {
              {"card_age_days", "integer", DocInt(g.card_age_days),
               "A card is `new` when first seen less than this many days before the event (first seen by "
               "this process: after a restart every card starts new), `established` otherwise; 0..3650, "
               "0: no card-age segments."},
              {"amount_bands", "list of numbers", DocNumbers(g.amount_bands),
               "Increasing bounds of the amount bands: `[20, 100, 500]` gives `<20`, `20-100`, `100-500`, "
               "`>=500` (a band holds its lower bound); `[]`: no amount bands."},
              {"amount", "string", DocString(g.amount), "The amount column of the bands."},
              {"columns", "list of strings", "none",
               "Categorical columns, one segmentation each, by their values as text; at most 6."},
              {"max_values", "integer", DocInt(g.max_values),
               "Values of a column with their own series, 1..100; later values are pooled as `other` "
               "(logged once), so the series stay bounded."},
              {"underserved_ratio", "number", DocNumber(g.underserved_ratio),
               "A segment is under-served when its precision or recall is below this share of the overall "
               "figure; 0..1."},
          }};
}

SectionDoc RetrainDoc() {
  const RetrainSpec t;
  //! A key shared with `train`: its own default, unless `train` gives the key.
  const auto shared = [](const std::string& own, const std::string& train_key) {
    return "from `train." + train_key + "`, else " + own;
  };
  return {Section::kRetrain,
          "operators[].retrain",
          "`operators[].retrain` of a `score`",
          "When the section is present, a background worker of `vigil run` trains on `feature_log` (which it "
          "needs) as `vigil train` does, and registers, never promotes, each new version. The keys it shares "
          "with `train` default to the values `train` gives, then to their own defaults; `params` are merged "
          "key by key over `train.params`. Early stopping watches `train.early_stopping_metric`; a search "
          "uses `train.search`'s space and metric.",
          {
              {"every", "duration", DocDuration(t.every_ms),
               "Event-time schedule: a training whenever the log's newest event time has advanced this much "
               "since the last one; at least `1m`."},
              {"train_days", "integer", shared(DocInt(t.train_days), "train_days"),
               "Training window, in days, ending `delay_days` before the validation window; at least 1."},
              {"valid_days", "integer", shared(DocInt(t.valid_days), "valid_days"),
               "Validation window: the last days of matured rows; 0: none."},
              {"delay_days", "integer", shared(DocInt(t.delay_days), "delay_days"),
               "Days between the training and the validation windows; 0 or more. The log holds matured rows "
               "only, so none are needed for the labels to be known."},
              {"rounds", "integer", shared(DocInt(t.rounds), "rounds"), "Boosting rounds, 1..100000."},
              {"params", "map of strings", "from `train.params`, else none",
               "libxgboost parameters; they override `vigil train`'s defaults and `train.params`."},
              {"early_stopping_rounds", "integer",
               shared(DocInt(t.early_stopping_rounds), "early_stopping_rounds"),
               "Early stopping on the validation window, as `train.early_stopping_rounds`; 0: none."},
              {"search", "integer", shared(DocInt(t.search), "search.trials"),
               "Random-search trials per training (as `vigil train --search N`): one run record per trial, "
               "and the best trial's model is registered; 0: one training with `params`. 0..10000."},
              {"search_budget", "duration", shared(DocDuration(t.search_budget_ms), "search.budget"),
               "Wall time after which a search starts no new trial and registers the best so far (logged); "
               "0: none."},
              {"min_rows", "integer", DocInt(t.min_rows),
               "With fewer training rows the training is skipped (logged)."},
              {"on_drift", "bool", DocBool(t.on_drift),
               "Also train when the monitor signals drift (a feature's or the score's PSI reaching "
               "`drift_psi`, or the performance detector's alarm), at most once per `drift_cooldown`. The "
               "training starts once the feature log reaches the signal's event time (the drifted events' "
               "labels have matured). Needs `monitor`."},
              {"drift_psi", "number", DocNumber(t.drift_psi), "The PSI that signals drift; positive."},
              {"drift_cooldown", "duration", DocDuration(t.drift_cooldown_ms),
               "Event time between two drift trainings; 0 or more."},
          }};
}

SectionDoc RolloutDoc() {
  const RolloutSpec o;
  return {
      Section::kRollout,
      "operators[].rollout",
      "`operators[].rollout` of a `score`",
      "When the section is present, a candidate version (the registry's `CANDIDATE`: the retrainer's newest, "
      "`vigil models propose` or the API) is tried against the champion on live events, both scoring "
      "every event, before it serves alone. Both are judged on the same events (shadow: all; canary: "
      "the canary cards' events, which the champion scores too). The verdict is taken on matured labels, "
      "so it needs `labels`; it is logged and written to the candidate's run record with its figures.",
      {
          {"mode", "`shadow` | `canary`", DocString(o.mode),
           "`shadow`: the champion decides every event, the candidate's scores are only recorded; "
           "`canary`: the candidate decides for `canary_percent` of the cards (sticky by a hash of the "
           "card id, `monitor.performance.card`)."},
          {"canary_percent", "number", DocNumber(o.canary_percent),
           "Canary: the share of cards, strictly between 0 and 100."},
          {"metric", "`average_precision` | `card_precision`", DocString(o.metric),
           "The metric compared; `card_precision` is card precision@top_k per day, averaged."},
          {"margin", "number", DocNumber(o.margin),
           "Extra lift required, in metric units: the candidate is promoted when the lower bound of the "
           "`confidence` interval of (its metric − the champion's) is > margin, rejected otherwise "
           "(canary: rolled back); 0 ≤ margin < 1. A tie never promotes."},
          {"days", "integer", DocInt(o.days),
           "Matured days (UTC days after the one the rollout started in) compared before the verdict, "
           "1..365."},
          {"min_frauds", "integer", DocInt(o.min_frauds),
           "Frauds the compared days must hold before a verdict; until then the compared days slide by a "
           "matured day at a time; at least 1."},
          {"confidence", "number", DocNumber(o.confidence),
           "Two-sided confidence of the interval of the difference: a paired bootstrap over cards (both "
           "versions' metrics recomputed on each resample of the cards, fixed seed); between 0.5 and 1."},
          {"resamples", "integer", DocInt(o.resamples),
           "Bootstrap resamples behind the interval, 100..100000."},
          {"propose_retrained", "bool", DocBool(o.propose_retrained),
           "The retrainer proposes each version it registers as the candidate when no rollout runs."},
      }};
}

}  // namespace

std::vector<SectionDoc> OperatorSections() {
  return {
      DeriveOperatorDoc(),  DeriveOutputDoc(), WindowOperatorDoc(), WindowOutputDoc(),
      ScoreOperatorDoc(),   MonitorDoc(),      MonitorDriftDoc(),   MonitorPerformanceDoc(),
      MonitorSegmentsDoc(), RetrainDoc(),      RolloutDoc(),
  };
}

}  // namespace vigil::config
