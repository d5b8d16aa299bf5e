#pragma once
// The typed, validated form of a pipeline YAML file. This folder depends on nothing else in vigil
// (only base/ and yaml-cpp): every other folder reads these structs, none of them reads YAML.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil::config {

//! Where a value was written: file, 1-based line and column. Empty file means "built in code".
struct Location {
  std::string file;  //!< Path of the YAML file as given.
  int line = 0;      //!< 1-based line.
  int column = 0;    //!< 1-based column.
  //! "file:line:col", or "<built-in>" when no file is known.
  std::string ToString() const;
};

//! A located error: "file:line:col: message". Used for every config problem.
base::Status ConfigError(const Location& loc, std::string_view message);

//! Type of a schema field or a computed column.
enum class FieldType { kInt64, kDouble, kString, kBool, kTimestamp };
//! How a timestamp field is written in the event.
enum class TimeFormat { kEpochMillis, kEpochSeconds, kIso8601 };

//! The names pipeline files use: "int64", "epoch_ms", ...
std::string_view FieldTypeName(FieldType type);
std::string_view TimeFormatName(TimeFormat format);

//! One field of the input events.
struct FieldSpec {
  std::string name;  //!< JSON key at the top level of the event.
  FieldType type = FieldType::kDouble;
  bool required = true;              //!< Missing required field ⇒ DLQ `missing_field`. Default true.
  std::optional<double> min;         //!< Inclusive lower bound for numbers ⇒ DLQ `out_of_range`.
  std::optional<double> max;         //!< Inclusive upper bound for numbers.
  std::vector<std::string> allowed;  //!< For strings: the allowed values (an enum) ⇒ DLQ `invalid_enum`.
  TimeFormat time_format = TimeFormat::kEpochMillis;  //!< For kTimestamp fields.
  Location loc;
};

//! The input event schema; `parse` validates every event against it.
struct SchemaSpec {
  std::vector<FieldSpec> fields;
  std::string event_time;                 //!< Name of the kTimestamp field that gives event time.
  std::string key;                        //!< Field used as the record key of outputs. Default: none.
  std::size_t max_event_bytes = 1 << 20;  //!< Larger payloads ⇒ DLQ `too_large`. Default 1 MiB.
  //! An event whose time is more than this ahead of its partition's progress (the latest event time
  //! accepted on the partition, or the wall clock when that is later) ⇒ DLQ `future`, before any
  //! operator sees it. Default 1 day, in ms; must be positive.
  int64_t max_future_ms = base::kMsPerDay;
  Location loc;
};

//! Where events come from.
struct SourceSpec {
  enum class Kind { kKafka, kFile };
  Kind kind = Kind::kKafka;  //!< Default kafka.
  std::string topic;         //!< Kafka: topic to consume.
  std::string group;         //!< Kafka: consumer group id. Default "vigil-<pipeline name>".
  std::string path;          //!< File: a JSONL file, one event per line.
  //! Kafka: the event field whose value producers use as the record key (an integer is keyed by its
  //! decimal text). Lets POST /v1/score find the partition, hence the task, that holds the event's
  //! state. Default none: the request must say `?key=`, or the topic has one partition.
  std::string key;
  //! Kafka: how producers map keys to partitions: "murmur2_random" (the Java client's default, so
  //! labels and events produced by any Kafka client co-partition) or "consistent_random" (librdkafka's
  //! own default, CRC32). vigil's producers use it too. Default "murmur2_random".
  std::string partitioner = "murmur2_random";
  //! Kafka: delete the records the group has committed past (a repartition topic, engine/stages.h,
  //! which only the next stage reads). Never read from YAML. Default false.
  bool purge_committed = false;
  Location loc;
};

//! One column of an output record: `name` in the output, read from column `from`.
struct OutputField {
  std::string name;
  std::string from;
  Location loc;
};

//! Where records go: the main output or the dead-letter queue.
struct SinkSpec {
  enum class Kind { kKafka, kFile, kNone };
  //! Record encoding: JSON objects (default) or CSV lines (file sinks; a header line comes first).
  enum class Format { kJson, kCsv };
  //! The kind of a sink section that names none. A sink with no section at all is kNone.
  static constexpr Kind kDefaultKind = Kind::kKafka;
  Kind kind = Kind::kNone;
  Format format = Format::kJson;
  std::string topic;                //!< Kafka topic.
  std::string path;                 //!< File path (JSONL).
  std::vector<OutputField> fields;  //!< Output mapping; empty = every column, in schema order.
  Location loc;
};

//! Kafka client settings shared by source and sinks.
struct KafkaSpec {
  std::string bootstrap = "127.0.0.1:9092";       //!< bootstrap.servers.
  std::map<std::string, std::string> properties;  //!< Passed to librdkafka as they are.
  std::map<std::string, std::string> consumer;    //!< Consumer-only librdkafka properties.
  std::map<std::string, std::string> producer;    //!< Producer-only librdkafka properties.
};

//! Micro-batching: a batch takes the events already fetched, up to `max_events`; an idle task waits
//! up to `max_wait_ms` for its first event.
struct BatchSpec {
  std::size_t max_events = 1000;  //!< Default 1000 events.
  int max_wait_ms = 20;           //!< Default 20 ms.
};

//! Delivery guarantee of outputs relative to consumed offsets.
enum class Guarantee { kAtLeastOnce, kExactlyOnce };

//! The names pipeline files use: "kafka", "json", "exactly_once", ...
std::string_view SourceKindName(SourceSpec::Kind kind);
std::string_view SinkKindName(SinkSpec::Kind kind);
std::string_view SinkFormatName(SinkSpec::Format format);
std::string_view GuaranteeName(Guarantee guarantee);

//! Process-level runtime settings.
struct RuntimeSpec {
  int workers = 2;                             //!< Worker threads running tasks. Default 2.
  std::string state_dir = "/tmp/vigil/state";  //!< RocksDB directories, one per task.
  int commit_interval_ms = 1000;               //!< Offsets + state are committed this often. Default 1 s.
  //! Upper bound of each write-back cache (one per stateful operator and task), in keys. Default 200k.
  std::size_t cache_max_keys = 200000;
  //! One budget, in bytes, for the state of every task of the process together: the RocksDB block
  //! cache shared by all stores (memory / 2, memtables included: at most memory / 8) and the
  //! write-back caches in front of them (memory / 2). At least 16 MiB. Default 1 GiB.
  uint64_t memory_bytes = 1ull << 30;
  static constexpr uint64_t kMinMemoryBytes = 16ull << 20;  //!< The smallest runtime.memory: 16 MiB.
  //! exactly_once (default): with a Kafka source and Kafka sinks, one Kafka transaction per commit
  //! interval holds the outputs, dead letters, changelog records and consumed offsets; readers use
  //! read_committed. at_least_once: no transactions (lower latency; a crash may repeat outputs).
  //! File pipelines are at-least-once.
  Guarantee guarantee = Guarantee::kExactlyOnce;
  //! Names this process among the group's instances: the transactional id is "<group>.<instance_id>",
  //! so a restarted instance fences its previous incarnation. Default, for the transactional id only:
  //! "<hostname>-<8 hex digits of a hash of the absolute state_dir>" (connectors::DefaultInstanceId),
  //! unique per host and directory. An id given here (or --instance-id) also makes the process a
  //! static member of its group.
  std::string instance_id;
  //! A partition none of whose reads gave an accepted event (one that passed `parse`) for this long
  //! counts as idle: with event-time alignment (engine/runtime.h) it no longer holds the other
  //! partitions of its stage back, so a partition that receives only garbage, or nothing, cannot
  //! stall them. Default 10 s, in ms; must be positive.
  int64_t idle_timeout_ms = 10'000;
  //! Back each task's store with the compacted topic "<group>.<input topic>.changelog" (Kafka sources): a
  //! task restores its state from it on assignment. Default true.
  bool changelog = true;
};

//! The HTTP server (metrics, health, API).
struct HttpSpec {
  bool enabled = true;
  std::string bind = "127.0.0.1";             //!< Default loopback only.
  int port = 9464;                            //!< Default 9464; 0 picks a free port.
  std::string token_env = "VIGIL_API_TOKEN";  //!< Env var holding the bearer token for mutating calls.
  int threads = 2;                            //!< Server threads (handlers run on them). Default 2.
  int max_connections = 256;                  //!< Open connections at most; more get 503. Default 256.
  //! POST /v1/score also applies the event to the state (as if it came from the stream; it is then
  //! not replayed after a crash) and needs the token. Default false: scoring changes nothing.
  bool score_updates_state = false;
};

//! An operand of a derive function: a column name or a constant.
struct Operand {
  std::optional<std::string> field;
  double constant = 0;
};

//! `derive`: one computed column per entry.
struct DeriveOutputSpec {
  std::string name;
  std::string fn;  //!< hour_of_day, day_of_week, is_weekend, add, sub, mul, div, lt, le, gt, ge, eq.
  std::vector<Operand> args;
  Location loc;
};
struct DeriveSpec {
  std::vector<DeriveOutputSpec> outputs;
};

//! Aggregates a window output can compute (operators/window.h gives each one's exact value).
enum class Aggregate {
  kCount,
  kSum,
  kAvg,
  kMin,
  kMax,
  kRatio,
  kStddev,         //!< Population standard deviation (ddof 0) of the field.
  kZscore,         //!< (current value − mean) / stddev over the window.
  kDistinct,       //!< Count of distinct values of the field.
  kTimeSinceLast,  //!< Milliseconds since the key's previous event; takes no window.
  kRatioToSum,     //!< Current value / sum of the field over the window.
  kRatioToAvg,     //!< Current value / avg.
  kRatioToMin,     //!< Current value / min.
  kRatioToMax,     //!< Current value / max.
  kLast,           //!< The field's value at the window's newest event where it is known (not NaN).
};

//! The name pipeline files use for `agg` ("count", "ratio_to_avg", ...).
std::string_view AggregateName(Aggregate agg);

//! One window output column: `agg` of `field` over (t − delay − window, t − delay].
struct WindowOutputSpec {
  std::string name;
  Aggregate agg = Aggregate::kCount;
  std::string field;        //!< Value column, or "$label" for the joined label; not used by count.
  std::string denominator;  //!< kRatio only: sum(field) / sum(denominator) (count when empty).
  //! A numeric column: only the window's events where it is nonzero (and not NaN) are aggregated, as
  //! SQL's FILTER (WHERE …). Empty: every event.
  std::string where;
  int64_t window_ms = 0;  //!< Window length; 0 for time_since_last, which has none.
  int64_t delay_ms = 0;   //!< Shift of the window into the past. Default 0.
  Location loc;
};

//! `window`: keyed event-time sliding windows with exact semantics.
struct WindowSpec {
  //! Key columns: one, or a composite key of 2 to kMaxKeyFields (e.g. card × terminal), whose state is
  //! kept per combination of values.
  std::vector<std::string> key;
  int64_t lateness_ms = 0;  //!< Events older than the key's latest by more ⇒ DLQ `late`.
  std::vector<WindowOutputSpec> outputs;
  static constexpr size_t kMaxKeyFields = 4;
};

//! `score: monitor:` — drift of the model's inputs and score against the reference histograms stored
//! with the serving version, and its performance on delayed labels; exported as Prometheus gauges.
//! `score: monitor: performance: segments:` — average precision, precision and recall at the review
//! threshold per segment of the matured traffic, and a 0/1 under-served flag per segment (its precision
//! or recall below `underserved_ratio` × the overall figure): labelled gauges of the score monitor.
struct SegmentsSpec {
  bool enabled = false;  //!< A `segments:` section is present.
  //! New vs established cards: new when first seen less than this many days before the event (first
  //! seen by this monitor since it started). Default 30 days; 0 = no card-age segments.
  int card_age_days = 30;
  //! Amount band bounds, increasing: {20, 100, 500} gives <20, 20-100, 100-500, >=500. Empty = none.
  std::vector<double> amount_bands = {20, 100, 500};
  std::string amount = "TX_AMOUNT";  //!< The amount column of the bands. Default TX_AMOUNT.
  //! Categorical columns, one segmentation each (their values as text). Default none; at most 6.
  std::vector<std::string> columns;
  //! Values per column with their own series; further values are pooled as `other`. 1..100. Default 20.
  int max_values = 20;
  //! A segment is under-served below this share of the overall precision or recall. 0..1. Default 0.5.
  double underserved_ratio = 0.5;
  Location loc;
};

struct MonitorSpec {
  bool enabled = false;     //!< A `monitor:` section is present.
  int64_t events = 1000;    //!< Drift window: events per sub-window (when span_ms is 0). Default 1000.
  int64_t span_ms = 0;      //!< Drift window: event time per sub-window instead (e.g. 1h). Default 0: events.
  int sub_windows = 10;     //!< Sub-windows in the sliding drift window. Default 10.
  int64_t every_ms = 5000;  //!< How often the gauges are recomputed (wall clock). Default 5 s.
  bool performance = false;  //!< Track performance on delayed labels (needs the pipeline's labels).
  int window_days = 7;       //!< Performance: matured days evaluated. Default 7.
  int label_delay_days = 7;  //!< Performance: days after which a day's labels are complete. Default 7.
  int64_t top_k = 100;       //!< Performance: k of card precision@k. Default 100.
  std::string card = "CUSTOMER_ID";  //!< Performance: the card (customer) column. Default CUSTOMER_ID.
  //! Performance: Page-Hinkley on the daily card precision; an alarm sets
  //! vigil_performance_drift_detected. lambda (alarm threshold) default 0.5, delta default 0.01.
  double ph_lambda = 0.5;
  double ph_delta = 0.01;
  //! Performance per segment of the traffic (models/segments.h); off unless configured.
  SegmentsSpec segments;
  Location loc;
};

//! `score: retrain:` — a background worker of `vigil run` retrains from the feature log
//! (lifecycle/retrainer.h) and registers, without promoting, each new version. Needs `feature_log`. The keys
//! it shares with `train:` (train_days, valid_days, delay_days, rounds, params, early_stopping_rounds,
//! search, search_budget) take their defaults from that section when it gives them; `params` are merged, key
//! by key, over `train.params`.
struct RetrainSpec {
  bool enabled = false;  //!< A `retrain:` section is present.
  //! Event-time schedule: a training whenever the log's newest event time has advanced this much
  //! since the last one. Default 7d.
  int64_t every_ms = 7 * base::kMsPerDay;
  int train_days = 7;  //!< Training window, days, right before the validation window. Default 7.
  int valid_days = 2;  //!< Validation window: the last days of matured rows. Default 2; 0 = none.
  int rounds = 100;    //!< Boosting rounds. Default 100.
  //! libxgboost parameters, as strings; override the defaults of `vigil train`. Default none.
  std::map<std::string, std::string> params;
  int64_t min_rows = 1000;  //!< Fewer training rows: the training is skipped (logged). Default 1000.
  //! Days between the training and the validation windows. Default 0: the log's rows are matured
  //! already, so the newest of them validate.
  int delay_days = 0;
  //! Early stopping on the validation window (`train.early_stopping_metric`); 0: none. Default 0.
  int early_stopping_rounds = 0;
  //! Random-search trials per training, over `train.search.space`, picked by `train.search.metric`;
  //! 0: one training with `params`. Default 0.
  int search = 0;
  //! Wall time after which a search starts no new trial and registers the best so far; 0: none.
  int64_t search_budget_ms = 0;
  //! Drift trigger: the monitor signals drift (a feature's or the score's PSI >= drift_psi over the
  //! drift window, or the performance change detector's alarm) and the worker trains at once, at most
  //! once per drift_cooldown of event time. Needs `monitor:`. Default off.
  bool on_drift = false;
  double drift_psi = 0.25;                      //!< PSI that signals drift. Default 0.25 (the alert rule's).
  int64_t drift_cooldown_ms = base::kMsPerDay;  //!< Event time between drift trainings. Default 1d.
  Location loc;
};

//! `score: rollout:` — how a candidate version (the registry's CANDIDATE, proposed by the retrainer or
//! by hand) is tried against the champion on live events before it serves alone (lifecycle/rollout_judge.h).
//! While a rollout runs both versions score every event. Needs the pipeline's labels: the verdict is
//! taken on matured labels (monitor's label_delay_days after each event).
struct RolloutSpec {
  bool enabled = false;  //!< A `rollout:` section is present.
  //! "shadow": the champion decides every event, the candidate's scores are only recorded; "canary":
  //! the candidate decides for `canary_percent` of the cards (sticky by hash of the card id). Default shadow.
  std::string mode = "shadow";
  double canary_percent = 10;  //!< Canary: share of cards, 0 < x < 100. Default 10.
  //! Compared metric: "average_precision" or "card_precision" (card precision@top_k per day, averaged).
  std::string metric = "average_precision";
  //! Extra lift required, in metric units, >= 0: the candidate is promoted when the lower bound of the
  //! confidence interval of (its metric - the champion's) is > margin, rejected otherwise. Default 0.
  double margin = 0.0;
  //! Matured days (UTC days after the one the rollout started in) compared before the verdict. Default 3.
  int days = 3;
  //! Frauds the compared window must hold before a verdict (the metrics are too noisy below). >= 1.
  //! Default 30.
  int64_t min_frauds = 30;
  //! Two-sided confidence of the interval of the difference (paired bootstrap over cards), in
  //! (0.5, 1). Default 0.95.
  double confidence = 0.95;
  //! Bootstrap resamples behind the interval, 100..100,000. Default 1,000.
  int resamples = 1000;
  //! The retrainer proposes each version it registers as the candidate when no rollout runs. Default true.
  bool propose_retrained = true;
  Location loc;
};

//! `score`: the registry's champion model scores the pipeline's `features`; hot-swapped on promotion.
struct ScoreSpec {
  std::string registry;    //!< Models directory (see models/registry.h).
  double threshold = 0.5;  //!< DECISION is 1 when SCORE ≥ threshold. Default 0.5.
  int64_t poll_ms = 1000;  //!< How often CHAMPION is checked for a promotion. Default 1 s.
  //! Decisions with SCORE ≥ review_threshold carry REASONS. Default: `threshold`.
  std::optional<double> review_threshold;
  int reasons = 3;  //!< Reason codes per flagged decision (top-k contributions); 0 = none. Default 3.
  //! How contributions are computed: "approximate" (Saabas, about one prediction's cost; default) or
  //! "exact" (TreeSHAP, libxgboost's pred_contribs).
  std::string reason_mode = "approximate";
  MonitorSpec monitor;  //!< Drift and performance monitoring; off unless configured.
  //! CSV file that receives, once each event's label is due (monitor's label_delay_days after its
  //! event time), the vector served for it, its score, model version and label: the training table
  //! of retraining. Default empty: none.
  std::string feature_log;
  //! The Kafka topic that receives every matured outcome (the served vector, score, version and label,
  //! once the label is due), in the transaction of the events that matured it: read by whoever judges
  //! or retrains for the whole group. Default `<group>.<input topic>.outcomes`, named like the
  //! changelog topic.
  //! Written only when outcomes are tracked (monitor performance, feature_log or rollout) and the
  //! pipeline reads Kafka.
  std::string outcomes;
  RetrainSpec retrain;  //!< Background retraining from `feature_log`; off unless configured.
  RolloutSpec rollout;  //!< Shadow or canary rollout of candidates; off unless configured.
};

//! How one searched parameter of `train: search: space:` is drawn by each trial.
struct SearchDimension {
  enum class Kind {
    kUniform,     //!< Uniform on [low, high).
    kLogUniform,  //!< Log-uniform on [low, high); low > 0.
    kInt,         //!< Uniform integer on [low, high], both included.
    kChoice,      //!< One of `choices`, each as likely.
  };
  Kind kind = Kind::kUniform;
  double low = 0;                    //!< Smallest value (not kChoice).
  double high = 0;                   //!< Largest value: included for kInt, excluded otherwise.
  std::vector<std::string> choices;  //!< kChoice: the values, as libxgboost reads them.
  Location loc;
};

//! `train: search:` — the random search of `vigil train --search N` and of `retrain: search:`. Each trial
//! draws every parameter of `space` independently, trains on the training window and is scored on the
//! validation window; the best trial's model is registered.
struct SearchSpec {
  int trials = 0;  //!< Trials of `vigil train` without --search; 0: no search. Default 0.
  //! What picks the best trial, on the validation window: "average_precision" or "card_precision"
  //! (the Handbook's card precision@100). Default average_precision.
  std::string metric = "average_precision";
  int64_t budget_ms = 0;  //!< Wall time after which no trial starts (the best so far wins); 0: none.
  //! Searched parameters: libxgboost parameter names, and `rounds`. Empty: DefaultSearchSpace().
  std::map<std::string, SearchDimension> space;
  Location loc;
};

//! The space searched when `space:` is not given: max_depth int [2, 8], eta log-uniform [0.03, 0.3),
//! min_child_weight log-uniform [1, 10), subsample and colsample_bytree uniform [0.5, 1), lambda
//! log-uniform [0.1, 10), rounds int [50, 300].
std::map<std::string, SearchDimension> DefaultSearchSpace();

//! `train:` — how `vigil train` fits a model: its parameters and default windows. Flags of `vigil
//! train` win over it; a score operator's `retrain:` takes its defaults from it (RetrainSpec).
struct TrainSpec {
  //! libxgboost parameters, as strings, over `vigil train`'s defaults (binary:logistic, max_depth 6,
  //! eta 0.3, tree_method exact). Default none.
  std::map<std::string, std::string> params;
  int rounds = 100;  //!< Boosting rounds (the most, with early stopping). Default 100.
  //! Stop when the validation window's `early_stopping_metric` has not improved for this many rounds,
  //! and keep the trees up to the best round; 0: none. Needs valid_days >= 1. Default 0.
  int early_stopping_rounds = 0;
  //! libxgboost's eval_metric for early stopping: "aucpr" (area under the precision-recall curve,
  //! closest to average precision), "auc" or "logloss". Default aucpr.
  std::string early_stopping_metric = "aucpr";
  int train_days = 7;  //!< Training window, days. Default 7.
  int valid_days = 7;  //!< Validation window, days; 0: none. Default 7.
  //! Days between the training and the validation windows (the Handbook's delay period, when the
  //! labels of the last days are not known yet). Default: 0 for a training, 7 for a search.
  std::optional<int> delay_days;
  SearchSpec search;  //!< Random search; off unless trials or --search say so.
  Location loc;
};

//! One operator of the graph.
struct OperatorSpec {
  std::string type;  //!< Registry name: "derive", "window", ...
  std::string name;  //!< Unique name; names its state. Default: "<type>-<index>".
  std::variant<std::monostate, DeriveSpec, WindowSpec, ScoreSpec> params;
  Location loc;
};

//! The label stream: outcomes (fraud or not) of earlier events, arriving later. Labels are read
//! partition by partition alongside the events (co-partitioned: same partition count, same key), and
//! joined by id. An event at time t sees a label only if the label's time is ≤ t. Labels are also read
//! while no event arrives, so the outcomes that wait for them mature in a quiet stream.
struct LabelsSpec {
  bool enabled = false;
  //! Kafka topic or a JSONL file. `source.key` names the event field the label records are keyed by
  //! (default: the events' source key); over several partitions, the stage partitioned by that field
  //! reads them (engine/stages.h).
  SourceSpec source;
  std::string id = "TRANSACTION_ID";   //!< Join key: the event id field, also the label record's id field.
  std::string label = "TX_FRAUD";      //!< Label field of label records (a number, 0/1 for fraud).
  std::string time = "LABEL_TIME_MS";  //!< When the label became known, epoch ms.
  //! Longest a batch waits, in total, for the label stream to reach its events' time (a stalled or
  //! lagging label stream) before it is scored with the labels read so far; each such batch counts in
  //! vigil_label_wait_timeouts_total. Well under runtime.commit_interval (the commit waits for the
  //! batch). 0..10 s. Default 200 ms.
  int max_wait_ms = 200;
  Location loc;
};

//! A whole pipeline file.
struct PipelineSpec {
  std::string name = "vigil";
  std::string file;  //!< Path it was read from.
  SourceSpec source;
  KafkaSpec kafka;
  SchemaSpec schema;
  LabelsSpec labels;
  std::vector<OperatorSpec> operators;
  //! The model's input vector, in order: column names (schema fields or operator outputs). Used by
  //! replay tables, training and scoring. Empty: no model.
  std::vector<std::string> features;
  Location features_loc;
  SinkSpec output;
  SinkSpec dead_letter;
  TrainSpec train;  //!< Model training; its defaults when the section is absent.
  BatchSpec batch;
  RuntimeSpec runtime;
  HttpSpec http;
};

//! Reads and validates a pipeline file. Every error names file:line:col and what was expected.
//! Relative paths in it (file source and sinks, labels file, runtime.state_dir, a score operator's
//! registry and feature_log) are resolved against the file's own folder, not the working directory.
base::Result<PipelineSpec> LoadPipelineFile(const std::string& path);
//! Same, from text; `file` is used in error messages.
base::Result<PipelineSpec> LoadPipelineText(const std::string& text, const std::string& file);

//! Parses "250ms", "10s", "5m", "2h", "7d" (or a bare number of ms) into milliseconds.
base::Result<int64_t> ParseDurationMs(std::string_view text);
//! The inverse: `ms` in the largest unit that divides it exactly ("7d", "1500ms"); 0 is "0".
std::string FormatDurationMs(int64_t ms);
//! Parses a size: "512MiB", "1.5GiB" (KiB, MiB, GiB, TiB: powers of 1024), "2GB" (KB, MB, GB, TB:
//! powers of 1000), "4096B" or a bare number of bytes.
base::Result<uint64_t> ParseBytes(std::string_view text);
//! The inverse: `bytes` in the largest binary unit that divides it exactly ("1GiB"), else "<n>B".
std::string FormatBytes(uint64_t bytes);

}  // namespace vigil::config
