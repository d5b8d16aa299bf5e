// The reference of the `train` section. Defaults are read from a default-constructed TrainSpec and from
// DefaultSearchSpace(), so the reference shows the space the search really uses.
#include "config/pipeline_config.h"
#include "config/reference_sections.h"

namespace vigil::config {
namespace {

//! A dimension as a file writes it: "{int: [2, 8]}".
std::string DimensionText(const SearchDimension& d) {
  const auto bounds = [&d] {
    const auto number = [](double v) {
      const std::string text = DocNumber(v);
      return text.substr(1, text.size() - 2);
    };
    return "[" + number(d.low) + ", " + number(d.high) + "]";
  };
  switch (d.kind) {
    case SearchDimension::Kind::kUniform:
      return "{uniform: " + bounds() + "}";
    case SearchDimension::Kind::kLogUniform:
      return "{log_uniform: " + bounds() + "}";
    case SearchDimension::Kind::kInt:
      return "{int: " + bounds() + "}";
    case SearchDimension::Kind::kChoice:
      break;
  }
  std::string list;
  for (const std::string& c : d.choices) list += (list.empty() ? "" : ", ") + c;
  return "{choice: [" + list + "]}";
}

std::string DefaultSpaceText() {
  std::string text;
  for (const auto& [name, d] : DefaultSearchSpace())
    text += (text.empty() ? "" : ", ") + ("`" + name + ": " + DimensionText(d) + "`");
  return text;
}

SectionDoc TrainDoc() {
  const TrainSpec t;
  return {
      Section::kTrain,
      "train",
      "`train`",
      "How `vigil train PIPELINE --table T.csv --train-start DAY` fits the model: a flag of the command wins "
      "over the key, the key over the built-in default. The training window starts on `--train-start`; the "
      "validation window, scored for the run record, starts `delay_days` after it ends. A score operator's "
      "`retrain` takes its defaults from the keys given here.",
      {
          {"params", "map of strings", "none",
           "libxgboost parameters (`max_depth: \"4\"`), over `vigil train`'s defaults (`objective: "
           "binary:logistic`, `max_depth: 6`, `eta: 0.3`, `tree_method: exact`); `--param k=v` wins per "
           "key."},
          {"rounds", "integer", DocInt(t.rounds),
           "Boosting rounds (the most, with early stopping), 1..100000."},
          {"early_stopping_rounds", "integer", DocInt(t.early_stopping_rounds),
           "Stop training when `early_stopping_metric` on the validation window has not improved for this "
           "many rounds; the model keeps the trees up to its best round (the run record says how many, "
           "`trees`). 0: no early stopping. Needs `valid_days` of 1 or more. The validation metrics of the "
           "run are then measured on the window that chose the round."},
          {"early_stopping_metric", "`aucpr` | `auc` | `logloss`", DocString(t.early_stopping_metric),
           "libxgboost's `eval_metric` watched by early stopping: the area under the precision-recall curve "
           "(the closest to average precision, which picks search trials), under the ROC curve, or the "
           "log loss (lower is better)."},
          {"train_days", "integer", DocInt(t.train_days), "Training window, in days; at least 1."},
          {"valid_days", "integer", DocInt(t.valid_days), "Validation window, in days; 0: none."},
          {"delay_days", "integer", "`0`; `7` for a search",
           "Days between the training and the validation windows: the Handbook's delay period (chapter 5), "
           "during which the labels of the last days are not known yet. 0 or more."},
          {"search", "mapping", "no search",
           "The random search of `vigil train --search N`: see `train.search`."},
      }};
}

SectionDoc TrainSearchDoc() {
  const SearchSpec s;
  return {
      Section::kTrainSearch,
      "train.search",
      "`train.search`",
      "A random search (not a grid; not successive halving): each trial draws every parameter of `space` "
      "independently, from a generator seeded by `--seed`, so a seed gives the same trials, trains on the "
      "training window (with early stopping if set) and is scored on the validation window. Each trial is a "
      "run record (trigger `search`, outcome `trial`); the best trial's model is registered as a version, "
      "whose run names the search and its trial count. Parameters not searched come from `params`.",
      {
          {"trials", "integer", DocInt(s.trials),
           "Trials of `vigil train` when `--search` is not given; 0: no search. 0..10000."},
          {"metric", "`average_precision` | `card_precision`", DocString(s.metric),
           "What picks the best trial on the validation window: average precision, or the Handbook's card "
           "precision@100 (`vigil train --metric`)."},
          {"budget", "duration", DocDuration(s.budget_ms),
           "Wall time after which no new trial starts and the best so far is registered; 0: none. The first "
           "trial always runs."},
          {"space", "map of mappings", DefaultSpaceText(),
           "The searched parameters, each a libxgboost parameter name (or `rounds`) with how it is drawn: "
           "see "
           "`train.search.space.<param>`. Given, it replaces the default space whole."},
      }};
}

SectionDoc SearchDimensionDoc() {
  return {
      Section::kSearchDimension,
      "train.search.space.<param>",
      "`train.search.space.<param>`",
      "How each trial draws one parameter: exactly one of the keys. Numbers are written to libxgboost with 3 "
      "significant digits, as the run records show them. `rounds` takes `int` or `choice` of integers.",
      {
          {"uniform", "list of two numbers", "one key is required", "`[low, high]`: uniform on [low, high)."},
          {"log_uniform", "list of two numbers", "one key is required",
           "`[low, high]`: log-uniform on [low, high), for scales such as `eta` or `lambda`; low > 0."},
          {"int", "list of two integers", "one key is required",
           "`[low, high]`: an integer, both ends included."},
          {"choice", "list of values", "one key is required", "One of the values, each as likely."},
      }};
}

}  // namespace

std::vector<SectionDoc> TrainSections() { return {TrainDoc(), TrainSearchDoc(), SearchDimensionDoc()}; }

}  // namespace vigil::config
