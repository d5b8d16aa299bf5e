#pragma once
// The Handbook pipeline (deploy/examples/handbook.yaml) rewritten for one test: its own topics, the
// test broker, extra operators and output columns. Every end-to-end test of scoring starts here.

#include <string>

namespace vigil::testing {

//! Topics of one test run; an empty name keeps the file's.
struct HandbookTopics {
  std::string transactions;
  std::string labels;
  std::string output;
  std::string dead_letter;
};

//! deploy/examples/handbook.yaml with `topics`, the broker at Bootstrap(), labels.max_wait 10 s and,
//! with a transactions topic, the consumer group "vigil-handbook-<that topic>" (the test's own).
std::string HandbookYaml(const HandbookTopics& topics);
//! Replaces `from` in `yaml`, which must contain it (the test fails otherwise), with `to`.
void ReplaceRequired(std::string* yaml, const std::string& from, const std::string& to);
//! Appends `operators` (one or more "  - type: ..." list items, newline-terminated) after the
//! pipeline's last feature operator.
void AppendOperators(std::string* yaml, const std::string& operators);
//! Appends `columns` (e.g. "A, B") after the last output field.
void AppendOutputFields(std::string* yaml, const std::string& columns);
//! Windows with every aggregate beyond the Handbook's (stddev, zscore, distinct, ratio_to_*,
//! time_since_last, delayed ones, a card × terminal key), for AppendOperators: the pipeline that
//! tests/app/window_aggregates_reference.py checks.
std::string AggregateWindows();
//! The columns AggregateWindows adds, comma-separated, in order.
std::string AggregateColumns();
//! Puts `columns` (e.g. "SCORE, DECISION") first among the output fields.
void PrependOutputFields(std::string* yaml, const std::string& columns);
//! Replaces the file's `runtime:` line with `text` (which may add further sections, e.g. http).
void ReplaceRuntime(std::string* yaml, const std::string& text);
//! Sets the source's consumer group (HandbookYaml's, or the file's default "vigil-handbook"), which also
//! names the changelog topic
//! "<group>.<input topic>.changelog" and the transactional id "<group>.<instance id>".
void SetGroup(std::string* yaml, const std::string& group);

}  // namespace vigil::testing
