#pragma once
// The reference of the pipeline file: every key each mapping of it accepts, with the key's type,
// default and meaning. It is the one list of keys: the parser takes each mapping's allowed keys from
// it (so an undocumented key is an unknown key), and `vigil config-reference` prints it as the
// Markdown committed as docs/config.md. Defaults are read from default-constructed specs
// (pipeline_config.h), so changing a default there changes the reference.

#include <string>
#include <vector>

namespace vigil::config {

//! A mapping of the pipeline file whose keys the parser checks.
enum class Section {
  kPipeline,            //!< The top level.
  kSource,              //!< `source` and `labels.source`.
  kKafka,               //!< `kafka`.
  kSchema,              //!< `schema`.
  kSchemaField,         //!< An entry of `schema.fields`.
  kLabels,              //!< `labels`.
  kDeriveOperator,      //!< An entry of `operators` with `type: derive`.
  kDeriveOutput,        //!< An entry of a derive operator's `outputs`.
  kWindowOperator,      //!< An entry of `operators` with `type: window`.
  kWindowOutput,        //!< An entry of a window operator's `outputs`.
  kScoreOperator,       //!< An entry of `operators` with `type: score`.
  kMonitor,             //!< A score operator's `monitor`.
  kMonitorDrift,        //!< `monitor.drift`.
  kMonitorPerformance,  //!< `monitor.performance`.
  kMonitorSegments,     //!< `monitor.performance.segments`.
  kRetrain,             //!< A score operator's `retrain`.
  kRollout,             //!< A score operator's `rollout`.
  kTrain,               //!< `train`.
  kTrainSearch,         //!< `train.search`.
  kSearchDimension,     //!< An entry of `train.search.space`.
  kSink,                //!< `output` and `dead_letter`.
  kOutputField,         //!< An entry of `output.fields` written as a mapping.
  kBatch,               //!< `batch`.
  kRuntime,             //!< `runtime`.
  kHttp,                //!< `http`.
};

//! One key of a section. Texts are Markdown.
struct KeyDoc {
  std::string key;            //!< As written in the file: "commit_interval".
  std::string type;           //!< "string", "integer", "number", "bool", "duration", "list of ...",
                              //!< "mapping", "map of strings", or the allowed values: "`a` | `b`".
  std::string default_value;  //!< A literal in backticks, "required", "none", or what it is computed from.
  std::string meaning;        //!< What it does, its unit and its bounds.
};

//! One mapping of the file and its keys, in the order the reference lists them.
struct SectionDoc {
  Section id;
  std::string
      path;  //!< YAML path of the mapping, prefix of its keys' paths: "schema.fields[]"; "" at the top.
  std::string title;  //!< Heading: which mappings take these keys.
  std::string intro;  //!< A short paragraph on what the section is for.
  std::vector<KeyDoc> keys;
};

//! Every section, in reference order. Built on the first call; thread-safe; lives until exit.
const std::vector<SectionDoc>& Reference();
//! The section `id` of Reference().
const SectionDoc& SectionOf(Section id);
//! The reference as Markdown: what `vigil config-reference` prints and docs/config.md holds.
std::string ReferenceMarkdown();

}  // namespace vigil::config
