// Parsing of the top-level `train:` section, and the defaults it gives a score operator's `retrain:`.
#include <charconv>
#include <cmath>

#include "config/pipeline_config.h"
#include "config/yaml_reader.h"

namespace vigil::config {
namespace {

using base::Status;

//! Largest number of trials one search may ask for.
constexpr int kMaxTrials = 10'000;
//! Largest number of boosting rounds (as `retrain: rounds:`).
constexpr int kMaxRounds = 100'000;

//! True for the text of an integer in 1..kMaxRounds.
bool IsRoundCount(std::string_view text) {
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() && v >= 1 && v <= kMaxRounds;
}

//! The two numbers of `[low, high]` under `key`.
Status ReadBounds(const YamlReader& r, const YAML::Node& value, std::string_view key, SearchDimension* d) {
  if (!value.IsSequence() || value.size() != 2 || !value[0].IsScalar() || !value[1].IsScalar())
    return r.Error(value, std::string(key) + ": expected [low, high], two numbers");
  try {
    d->low = value[0].as<double>();
    d->high = value[1].as<double>();
  } catch (const YAML::Exception&) {
    return r.Error(value, std::string(key) + ": expected [low, high], two numbers");
  }
  if (!std::isfinite(d->low) || !std::isfinite(d->high))
    return r.Error(value, std::string(key) + ": expected finite numbers");
  return Status::OK();
}

//! One entry of `space:`: `{uniform: [a, b]}`, `{log_uniform: [a, b]}`, `{int: [a, b]}` or
//! `{choice: [x, y, ...]}`.
Status ParseDimension(const YamlReader& r, const YAML::Node& node, const std::string& name,
                      SearchDimension* d) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "a search dimension", Section::kSearchDimension));
  d->loc = r.Loc(node);
  static const std::pair<const char*, SearchDimension::Kind> kKinds[] = {
      {"uniform", SearchDimension::Kind::kUniform},
      {"log_uniform", SearchDimension::Kind::kLogUniform},
      {"int", SearchDimension::Kind::kInt},
      {"choice", SearchDimension::Kind::kChoice}};
  int given = 0;
  for (const auto& [key, kind] : kKinds) {
    const YAML::Node value = node[key];
    if (!value) continue;
    ++given;
    d->kind = kind;
    if (kind == SearchDimension::Kind::kChoice) {
      if (!value.IsSequence() || value.size() == 0)
        return r.Error(value, "choice: expected a non-empty list of values");
      for (const auto& v : value) {
        if (!v.IsScalar()) return r.Error(v, "choice: expected a value (a number or a word)");
        d->choices.push_back(v.Scalar());
      }
      continue;
    }
    VIGIL_RETURN_IF_ERROR(ReadBounds(r, value, key, d));
    if (kind == SearchDimension::Kind::kInt) {
      if (d->low != std::floor(d->low) || d->high != std::floor(d->high) || d->low > d->high)
        return r.Error(value, "int: expected [low, high], two integers with low <= high");
    } else if (!(d->low < d->high)) {
      return r.Error(value, std::string(key) + ": expected [low, high] with low < high");
    }
    if (kind == SearchDimension::Kind::kLogUniform && !(d->low > 0))
      return r.Error(value, "log_uniform: expected a positive low bound");
  }
  if (given != 1)
    return r.Error(node, "search dimension '" + name + "': give one of uniform, log_uniform, int or choice");
  if (name == "rounds") {
    bool ok = d->kind == SearchDimension::Kind::kInt ? d->low >= 1 && d->high <= kMaxRounds
                                                     : d->kind == SearchDimension::Kind::kChoice;
    for (const std::string& c : d->choices) ok = ok && IsRoundCount(c);
    if (!ok)
      return r.Error(node, "rounds: expected {int: [low, high]} or {choice: [...]} of integers in 1..100000");
  }
  return Status::OK();
}

Status ParseSearch(const YamlReader& r, const YAML::Node& node, SearchSpec* s) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "train.search", Section::kTrainSearch));
  s->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.Read(node, "trials", &s->trials));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "metric", &s->metric));
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "budget", &s->budget_ms));
  if (s->trials < 0 || s->trials > kMaxTrials) return r.Error(node["trials"], "trials: expected 0..10000");
  if (s->metric != "average_precision" && s->metric != "card_precision")
    return r.Error(node["metric"], "metric: expected average_precision or card_precision");
  if (YAML::Node space = node["space"]) {
    if (!space.IsMap() || space.size() == 0)
      return r.Error(space, "space: expected a mapping of parameter: {uniform|log_uniform|int|choice: ...}");
    for (const auto& kv : space) {
      const std::string name = kv.first.as<std::string>();
      VIGIL_RETURN_IF_ERROR(ParseDimension(r, kv.second, name, &s->space[name]));
    }
  }
  return Status::OK();
}

}  // namespace

//! `train: {params: {k: "v"}, rounds: 100, early_stopping_rounds: 0, early_stopping_metric: aucpr,
//!          train_days: 7, valid_days: 7, delay_days: 0, search: {trials: 0, metric: ..., budget: 0,
//!          space: {...}}}`
Status ParseTrain(const YamlReader& r, const YAML::Node& node, TrainSpec* t) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "train", Section::kTrain));
  t->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.Read(node, "params", &t->params));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "rounds", &t->rounds));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "early_stopping_rounds", &t->early_stopping_rounds));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "early_stopping_metric", &t->early_stopping_metric));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "train_days", &t->train_days));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "valid_days", &t->valid_days));
  if (node["delay_days"]) {
    int delay = 0;
    VIGIL_RETURN_IF_ERROR(r.Read(node, "delay_days", &delay));
    if (delay < 0) return r.Error(node["delay_days"], "delay_days: expected 0 or more");
    t->delay_days = delay;
  }
  if (t->rounds < 1 || t->rounds > kMaxRounds) return r.Error(node["rounds"], "rounds: expected 1..100000");
  if (t->early_stopping_rounds < 0 || t->early_stopping_rounds > kMaxRounds)
    return r.Error(node["early_stopping_rounds"], "early_stopping_rounds: expected 0..100000");
  if (t->early_stopping_metric != "aucpr" && t->early_stopping_metric != "auc" &&
      t->early_stopping_metric != "logloss")
    return r.Error(node["early_stopping_metric"], "early_stopping_metric: expected aucpr, auc or logloss");
  if (t->train_days < 1) return r.Error(node["train_days"], "train_days: expected at least 1");
  if (t->valid_days < 0) return r.Error(node["valid_days"], "valid_days: expected 0 or more");
  if (YAML::Node s = node["search"]) VIGIL_RETURN_IF_ERROR(ParseSearch(r, s, &t->search));
  if (t->valid_days == 0 && t->early_stopping_rounds > 0)
    return r.Error(node["early_stopping_rounds"],
                   "early_stopping_rounds: needs a validation window (valid_days >= 1)");
  if (t->valid_days == 0 && t->search.trials > 0)
    return r.Error(node["search"]["trials"], "search: needs a validation window (valid_days >= 1)");
  return Status::OK();
}

RetrainSpec RetrainDefaults(const YAML::Node& train, const TrainSpec& t) {
  RetrainSpec d;
  d.params = t.params;
  if (!train) return d;
  if (train["train_days"]) d.train_days = t.train_days;
  if (train["valid_days"]) d.valid_days = t.valid_days;
  if (t.delay_days) d.delay_days = *t.delay_days;
  if (train["rounds"]) d.rounds = t.rounds;
  if (train["early_stopping_rounds"]) d.early_stopping_rounds = t.early_stopping_rounds;
  if (train["search"] && train["search"]["trials"]) d.search = t.search.trials;
  if (train["search"] && train["search"]["budget"]) d.search_budget_ms = t.search.budget_ms;
  return d;
}

std::map<std::string, SearchDimension> DefaultSearchSpace() {
  using Kind = SearchDimension::Kind;
  const auto dim = [](Kind kind, double low, double high) {
    SearchDimension d;
    d.kind = kind;
    d.low = low;
    d.high = high;
    return d;
  };
  return {
      {"max_depth", dim(Kind::kInt, 2, 8)},
      {"eta", dim(Kind::kLogUniform, 0.03, 0.3)},
      {"min_child_weight", dim(Kind::kLogUniform, 1, 10)},
      {"subsample", dim(Kind::kUniform, 0.5, 1)},
      {"colsample_bytree", dim(Kind::kUniform, 0.5, 1)},
      {"lambda", dim(Kind::kLogUniform, 0.1, 10)},
      {"rounds", dim(Kind::kInt, 50, 300)},
  };
}

}  // namespace vigil::config
