// Parsing of the `operators:` list: one function per operator type.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "config/pipeline_config.h"
#include "config/yaml_reader.h"

namespace vigil::config {
namespace {

using base::Status;

Status ParseDerive(const YamlReader& r, const YAML::Node& node, DeriveSpec* d) {
  VIGIL_ASSIGN_OR_RETURN(YAML::Node outputs, r.Required(node, "outputs"));
  VIGIL_RETURN_IF_ERROR(r.ExpectSeq(outputs, "derive outputs"));
  for (const auto& o : outputs) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(o, "a derive output", Section::kDeriveOutput));
    DeriveOutputSpec out;
    out.loc = r.Loc(o);
    VIGIL_ASSIGN_OR_RETURN(YAML::Node name, r.RequiredScalar(o, "name"));
    out.name = name.Scalar();
    VIGIL_ASSIGN_OR_RETURN(YAML::Node fn, r.RequiredScalar(o, "fn"));
    out.fn = fn.Scalar();
    if (YAML::Node args = o["args"]) {
      VIGIL_RETURN_IF_ERROR(r.ExpectSeq(args, "args"));
      for (const auto& a : args) {
        if (!a.IsScalar()) return r.Error(a, "expected a field name or a number");
        const std::string& s = a.Scalar();
        Operand operand;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), operand.constant);
        if (ec != std::errc() || ptr != s.data() + s.size()) operand.field = s;
        out.args.push_back(std::move(operand));
      }
    }
    d->outputs.push_back(std::move(out));
  }
  return Status::OK();
}

Status ParseAggregate(const YamlReader& r, const YAML::Node& node, Aggregate* agg) {
  VIGIL_ASSIGN_OR_RETURN(YAML::Node a, r.RequiredScalar(node, "agg"));
  std::string names;
  for (int i = 0; i <= static_cast<int>(Aggregate::kLast); ++i) {
    const auto candidate = static_cast<Aggregate>(i);
    if (a.Scalar() == AggregateName(candidate)) {
      *agg = candidate;
      return Status::OK();
    }
    names += (names.empty() ? "" : ", ") + std::string(AggregateName(candidate));
  }
  return r.Error(a, "unknown aggregate '" + a.Scalar() + "'; expected " + names);
}

//! Whether `agg` divides or compares the current event's own value by its window.
bool ReadsCurrentValue(Aggregate agg) {
  return agg == Aggregate::kZscore || agg == Aggregate::kRatioToSum || agg == Aggregate::kRatioToAvg ||
         agg == Aggregate::kRatioToMin || agg == Aggregate::kRatioToMax;
}

//! `key: CARD` or a composite `key: [CARD, TERMINAL]`.
Status ParseWindowKey(const YamlReader& r, const YAML::Node& node, std::vector<std::string>* key) {
  VIGIL_ASSIGN_OR_RETURN(YAML::Node k, r.Required(node, "key"));
  if (k.IsScalar()) {
    key->push_back(k.Scalar());
    return Status::OK();
  }
  if (!k.IsSequence()) return r.Error(k, "key: expected a column name or a list of column names");
  for (const auto& f : k) {
    if (!f.IsScalar()) return r.Error(f, "key: expected a column name");
    if (std::find(key->begin(), key->end(), f.Scalar()) != key->end())
      return r.Error(f, "key: '" + f.Scalar() + "' is named twice");
    key->push_back(f.Scalar());
  }
  if (key->size() < 2 || key->size() > WindowSpec::kMaxKeyFields)
    return r.Error(k, "key: a composite key names 2 to " + std::to_string(WindowSpec::kMaxKeyFields) +
                          " columns (a single one is written key: NAME)");
  return Status::OK();
}

//! `segments: {card_age_days: 30, amount_bands: [20, 100, 500], amount: TX_AMOUNT, columns: [C],
//!            max_values: 20, underserved_ratio: 0.5}`
Status ParseSegments(const YamlReader& r, const YAML::Node& node, SegmentsSpec* g) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "segments", Section::kMonitorSegments));
  g->enabled = true;
  g->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.Read(node, "card_age_days", &g->card_age_days));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "amount", &g->amount));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "max_values", &g->max_values));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "underserved_ratio", &g->underserved_ratio));
  if (g->card_age_days < 0 || g->card_age_days > 3650)
    return r.Error(node["card_age_days"], "card_age_days: expected 0..3650 (0: no card-age segments)");
  if (g->max_values < 1 || g->max_values > 100)
    return r.Error(node["max_values"], "max_values: expected 1..100");
  if (!(g->underserved_ratio >= 0 && g->underserved_ratio <= 1))
    return r.Error(node["underserved_ratio"], "underserved_ratio: expected 0..1");
  if (YAML::Node bands = node["amount_bands"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectSeq(bands, "amount_bands"));
    g->amount_bands.clear();
    for (const auto& b : bands) {
      double bound = 0;
      if (!b.IsScalar() || !YAML::convert<double>::decode(b, bound) || !std::isfinite(bound))
        return r.Error(b, "amount_bands: expected numbers");
      if (!g->amount_bands.empty() && !(bound > g->amount_bands.back()))
        return r.Error(b, "amount_bands: expected increasing bounds");
      g->amount_bands.push_back(bound);
    }
  }
  if (YAML::Node columns = node["columns"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectSeq(columns, "columns"));
    for (const auto& c : columns) {
      if (!c.IsScalar()) return r.Error(c, "columns: expected column names");
      g->columns.push_back(c.Scalar());
    }
    if (g->columns.size() > 6) return r.Error(columns, "columns: at most 6 segment columns");
  }
  return Status::OK();
}

//! `monitor: {drift: {events: N | span: 1h, sub_windows: N}, every: 5s,
//!           performance: {window_days: 7, label_delay_days: 7, top_k: 100, card: CUSTOMER_ID}}`
Status ParseMonitor(const YamlReader& r, const YAML::Node& node, MonitorSpec* m) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "monitor", Section::kMonitor));
  m->enabled = true;
  m->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "every", &m->every_ms));
  if (m->every_ms < 100) return r.Error(node["every"], "every: expected at least 100ms");
  if (YAML::Node d = node["drift"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(d, "drift", Section::kMonitorDrift));
    VIGIL_RETURN_IF_ERROR(r.Read(d, "events", &m->events));
    VIGIL_RETURN_IF_ERROR(r.ReadDuration(d, "span", &m->span_ms));
    VIGIL_RETURN_IF_ERROR(r.Read(d, "sub_windows", &m->sub_windows));
    if (m->events < 1) return r.Error(d["events"], "events: expected at least 1");
    if (m->sub_windows < 1 || m->sub_windows > 1024)
      return r.Error(d["sub_windows"], "sub_windows: expected 1..1024");
    if (d["events"] && d["span"]) return r.Error(d, "drift: give events or span, not both");
  }
  if (YAML::Node p = node["performance"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(p, "performance", Section::kMonitorPerformance));
    m->performance = true;
    VIGIL_RETURN_IF_ERROR(r.Read(p, "window_days", &m->window_days));
    VIGIL_RETURN_IF_ERROR(r.Read(p, "label_delay_days", &m->label_delay_days));
    VIGIL_RETURN_IF_ERROR(r.Read(p, "top_k", &m->top_k));
    VIGIL_RETURN_IF_ERROR(r.Read(p, "card", &m->card));
    VIGIL_RETURN_IF_ERROR(r.Read(p, "ph_lambda", &m->ph_lambda));
    VIGIL_RETURN_IF_ERROR(r.Read(p, "ph_delta", &m->ph_delta));
    if (m->window_days < 1) return r.Error(p["window_days"], "window_days: expected at least 1");
    if (m->label_delay_days < 0)
      return r.Error(p["label_delay_days"], "label_delay_days: expected 0 or more");
    if (m->top_k < 1) return r.Error(p["top_k"], "top_k: expected at least 1");
    if (YAML::Node g = p["segments"]) VIGIL_RETURN_IF_ERROR(ParseSegments(r, g, &m->segments));
  }
  return Status::OK();
}

//! `retrain: {every: 7d, train_days: 7, valid_days: 2, delay_days: 0, rounds: 100, params: {k: "v"},
//!           early_stopping_rounds: 0, search: 0, search_budget: 0, min_rows: 1000}`
Status ParseRetrain(const YamlReader& r, const YAML::Node& node, RetrainSpec* t) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "retrain", Section::kRetrain));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "on_drift", &t->on_drift));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "drift_psi", &t->drift_psi));
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "drift_cooldown", &t->drift_cooldown_ms));
  if (!(t->drift_psi > 0)) return r.Error(node["drift_psi"], "drift_psi: expected a positive PSI");
  if (t->drift_cooldown_ms < 0) return r.Error(node["drift_cooldown"], "drift_cooldown: expected 0 or more");
  t->enabled = true;
  t->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "every", &t->every_ms));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "train_days", &t->train_days));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "valid_days", &t->valid_days));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "rounds", &t->rounds));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "min_rows", &t->min_rows));
  if (t->every_ms < 60'000) return r.Error(node["every"], "every: expected at least 1m (event time)");
  if (t->train_days < 1) return r.Error(node["train_days"], "train_days: expected at least 1");
  if (t->valid_days < 0) return r.Error(node["valid_days"], "valid_days: expected 0 or more");
  if (t->rounds < 1 || t->rounds > 100'000) return r.Error(node["rounds"], "rounds: expected 1..100000");
  if (t->min_rows < 1) return r.Error(node["min_rows"], "min_rows: expected at least 1");
  VIGIL_RETURN_IF_ERROR(r.Read(node, "params", &t->params));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "delay_days", &t->delay_days));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "early_stopping_rounds", &t->early_stopping_rounds));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "search", &t->search));
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "search_budget", &t->search_budget_ms));
  if (t->delay_days < 0) return r.Error(node["delay_days"], "delay_days: expected 0 or more");
  if (t->early_stopping_rounds < 0 || t->early_stopping_rounds > 100'000)
    return r.Error(node["early_stopping_rounds"], "early_stopping_rounds: expected 0..100000");
  if (t->search < 0 || t->search > 10'000) return r.Error(node["search"], "search: expected 0..10000 trials");
  // Checked whichever section gave the values: the error points at retrain's key, or at the section.
  const auto at = [&](const char* key) { return node[key] ? node[key] : node; };
  if (t->valid_days == 0 && t->early_stopping_rounds > 0)
    return r.Error(at("early_stopping_rounds"),
                   "early_stopping_rounds: needs a validation window (valid_days >= 1)");
  if (t->valid_days == 0 && t->search > 0)
    return r.Error(at("search"), "search: needs a validation window (valid_days >= 1)");
  return Status::OK();
}

//! `rollout: {mode: shadow|canary, canary_percent: 10, metric: average_precision|card_precision,
//!            margin: 0.0, days: 3, min_frauds: 30, confidence: 0.95, resamples: 1000,
//!            propose_retrained: true}`
Status ParseRollout(const YamlReader& r, const YAML::Node& node, RolloutSpec* o) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "rollout", Section::kRollout));
  o->enabled = true;
  o->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.Read(node, "mode", &o->mode));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "canary_percent", &o->canary_percent));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "metric", &o->metric));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "margin", &o->margin));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "days", &o->days));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "min_frauds", &o->min_frauds));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "confidence", &o->confidence));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "resamples", &o->resamples));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "propose_retrained", &o->propose_retrained));
  if (o->mode != "shadow" && o->mode != "canary")
    return r.Error(node["mode"], "mode: expected shadow or canary");
  if (!(o->canary_percent > 0 && o->canary_percent < 100))
    return r.Error(node["canary_percent"], "canary_percent: expected a share strictly between 0 and 100");
  if (o->metric != "average_precision" && o->metric != "card_precision")
    return r.Error(node["metric"], "metric: expected average_precision or card_precision");
  if (!(o->margin >= 0 && o->margin < 1)) return r.Error(node["margin"], "margin: expected 0 <= margin < 1");
  if (o->days < 1 || o->days > 365) return r.Error(node["days"], "days: expected 1..365");
  if (o->min_frauds < 1) return r.Error(node["min_frauds"], "min_frauds: expected at least 1");
  if (!(o->confidence > 0.5 && o->confidence < 1))
    return r.Error(node["confidence"], "confidence: expected 0.5 < confidence < 1");
  if (o->resamples < 100 || o->resamples > 100'000)
    return r.Error(node["resamples"], "resamples: expected 100..100000");
  return Status::OK();
}

Status ParseWindowOutput(const YamlReader& r, const YAML::Node& o, int64_t default_delay,
                         WindowOutputSpec* out) {
  out->loc = r.Loc(o);
  out->delay_ms = default_delay;
  VIGIL_ASSIGN_OR_RETURN(YAML::Node name, r.RequiredScalar(o, "name"));
  out->name = name.Scalar();
  VIGIL_RETURN_IF_ERROR(ParseAggregate(r, o, &out->agg));
  VIGIL_RETURN_IF_ERROR(r.Read(o, "field", &out->field));
  VIGIL_RETURN_IF_ERROR(r.Read(o, "denominator", &out->denominator));
  VIGIL_RETURN_IF_ERROR(r.Read(o, "where", &out->where));
  const std::string agg(AggregateName(out->agg));
  if (out->agg == Aggregate::kTimeSinceLast) {
    // It reads the key's previous event, however old: a window or a field would mean nothing.
    for (const char* key : {"window", "delay", "field", "denominator", "where"}) {
      if (o[key]) return r.Error(o[key], "time_since_last takes no '" + std::string(key) + "'");
    }
    out->delay_ms = 0;
    return Status::OK();
  }
  VIGIL_ASSIGN_OR_RETURN(YAML::Node window, r.Required(o, "window"));
  (void)window;
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(o, "window", &out->window_ms));
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(o, "delay", &out->delay_ms));
  if (out->window_ms <= 0) return r.Error(o["window"], "window: expected a positive duration");
  if (out->agg != Aggregate::kCount && out->field.empty())
    return r.Error(o, "'" + agg + "' of '" + out->name + "' needs 'field'");
  if (!out->denominator.empty() && out->agg != Aggregate::kRatio)
    return r.Error(o["denominator"], "denominator: only 'ratio' takes one, not '" + agg + "'");
  if (ReadsCurrentValue(out->agg) && out->field == "$label")
    return r.Error(o["field"], "'" + agg +
                                   "' compares the current event's own value, and its label is not known at "
                                   "its time: '$label' cannot be its field");
  if (out->where == "$label")
    return r.Error(o["where"],
                   "where: a column of the event; to keep its known frauds, aggregate "
                   "'$label' itself");
  return Status::OK();
}

Status ParseWindow(const YamlReader& r, const YAML::Node& node, WindowSpec* w) {
  VIGIL_RETURN_IF_ERROR(ParseWindowKey(r, node, &w->key));
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "lateness", &w->lateness_ms));
  int64_t default_delay = WindowOutputSpec{}.delay_ms;
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "delay", &default_delay));
  VIGIL_ASSIGN_OR_RETURN(YAML::Node outputs, r.Required(node, "outputs"));
  VIGIL_RETURN_IF_ERROR(r.ExpectSeq(outputs, "window outputs"));
  for (const auto& o : outputs) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(o, "a window output", Section::kWindowOutput));
    WindowOutputSpec out;
    VIGIL_RETURN_IF_ERROR(ParseWindowOutput(r, o, default_delay, &out));
    w->outputs.push_back(std::move(out));
  }
  return Status::OK();
}

}  // namespace

Status ParseOperators(const YamlReader& r, const YAML::Node& node, const RetrainSpec& retrain_defaults,
                      std::vector<OperatorSpec>* out) {
  VIGIL_RETURN_IF_ERROR(r.ExpectSeq(node, "operators"));
  std::set<std::string> names;
  for (const auto& o : node) {
    if (!o.IsMap()) return r.Error(o, "expected an operator mapping with 'type'");
    OperatorSpec spec;
    spec.loc = r.Loc(o);
    VIGIL_ASSIGN_OR_RETURN(YAML::Node type, r.RequiredScalar(o, "type"));
    spec.type = type.Scalar();
    spec.name = spec.type + "-" + std::to_string(out->size());
    VIGIL_RETURN_IF_ERROR(r.Read(o, "name", &spec.name));
    if (!names.insert(spec.name).second) return r.Error(o, "duplicate operator name '" + spec.name + "'");
    if (spec.type == "derive") {
      VIGIL_RETURN_IF_ERROR(r.ExpectMap(o, "a derive operator", Section::kDeriveOperator));
      DeriveSpec d;
      VIGIL_RETURN_IF_ERROR(ParseDerive(r, o, &d));
      spec.params = std::move(d);
    } else if (spec.type == "window") {
      VIGIL_RETURN_IF_ERROR(r.ExpectMap(o, "a window operator", Section::kWindowOperator));
      WindowSpec w;
      VIGIL_RETURN_IF_ERROR(ParseWindow(r, o, &w));
      spec.params = std::move(w);
    } else if (spec.type == "score") {
      VIGIL_RETURN_IF_ERROR(r.ExpectMap(o, "a score operator", Section::kScoreOperator));
      ScoreSpec sc;
      VIGIL_ASSIGN_OR_RETURN(YAML::Node registry, r.RequiredScalar(o, "registry"));
      sc.registry = registry.Scalar();
      VIGIL_RETURN_IF_ERROR(r.Read(o, "threshold", &sc.threshold));
      VIGIL_RETURN_IF_ERROR(r.ReadDuration(o, "poll", &sc.poll_ms));
      if (sc.poll_ms < 10) return r.Error(o["poll"], "poll: expected at least 10ms");
      if (o["review_threshold"]) {
        double review = 0;
        VIGIL_RETURN_IF_ERROR(r.Read(o, "review_threshold", &review));
        sc.review_threshold = review;
      }
      VIGIL_RETURN_IF_ERROR(r.Read(o, "reasons", &sc.reasons));
      if (sc.reasons < 0 || sc.reasons > 64) return r.Error(o["reasons"], "reasons: expected 0..64");
      VIGIL_RETURN_IF_ERROR(r.Read(o, "reason_mode", &sc.reason_mode));
      if (sc.reason_mode != "approximate" && sc.reason_mode != "exact")
        return r.Error(o["reason_mode"], "reason_mode: expected approximate or exact");
      if (YAML::Node m = o["monitor"]) VIGIL_RETURN_IF_ERROR(ParseMonitor(r, m, &sc.monitor));
      VIGIL_RETURN_IF_ERROR(r.Read(o, "feature_log", &sc.feature_log));
      VIGIL_RETURN_IF_ERROR(r.Read(o, "outcomes", &sc.outcomes));
      if (YAML::Node t = o["retrain"]) {
        sc.retrain = retrain_defaults;
        VIGIL_RETURN_IF_ERROR(ParseRetrain(r, t, &sc.retrain));
        if (sc.feature_log.empty()) return r.Error(t, "retrain: needs feature_log (the table it trains on)");
        if (sc.retrain.on_drift && !sc.monitor.enabled)
          return r.Error(t["on_drift"], "retrain: on_drift needs the score operator's monitor: section");
      }
      if (YAML::Node t = o["rollout"]) VIGIL_RETURN_IF_ERROR(ParseRollout(r, t, &sc.rollout));
      spec.params = std::move(sc);
    } else {
      return r.Error(type, "unknown operator type '" + spec.type + "'; expected derive, window or score");
    }
    out->push_back(std::move(spec));
  }
  return Status::OK();
}

}  // namespace vigil::config
