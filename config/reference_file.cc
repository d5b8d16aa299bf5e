// The reference of the sections outside `operators`. Each default is read from a default-constructed
// spec; only defaults computed at load time (a group named after the pipeline) are written as text.
#include "config/pipeline_config.h"
#include "config/reference_sections.h"

namespace vigil::config {
namespace {

SectionDoc TopLevelDoc() {
  const PipelineSpec p;
  return {Section::kPipeline,
          "",
          "Top level",
          "A pipeline file is one YAML mapping. `source`, `schema` and `output` are required; any other "
          "section, and any key with a default, may be left out.",
          {
              {"name", "string", DocString(p.name),
               "Names the pipeline in logs and metrics; the default consumer group is `vigil-<name>`."},
              {"source", "mapping", "required", "Where events come from: see `source`."},
              {"kafka", "mapping", "its keys' defaults",
               "Kafka client settings shared by the source, the labels and the sinks."},
              {"schema", "mapping", "required", "The events' fields, checked on every event."},
              {"labels", "mapping", "none",
               "The label stream: fraud outcomes of earlier events, arriving later. Needed by windows over "
               "`$label`, the score monitor's performance and rollouts."},
              {"operators", "list of mappings", "none",
               "The operators applied, in order, to every event that passed the schema: each entry's `type` "
               "(`derive`, `window` or `score`) says which keys it takes."},
              {"features", "list of strings", "none",
               "The model's input vector, in order: column names (schema fields or operator outputs). Used "
               "by replay tables, training and scoring; empty: no model."},
              {"output", "mapping", "required", "Where the output records go: see `output`."},
              {"train", "mapping", "its keys' defaults",
               "How `vigil train` fits the model: libxgboost parameters, rounds, early stopping, the default "
               "windows and the random search; the defaults of a score operator's `retrain`."},
              {"dead_letter", "mapping", DocString("kind: " + std::string(SinkKindName(p.dead_letter.kind))),
               "Where rejected events go, with their reason; without it they are only counted "
               "(`vigil_dead_letters_total`)."},
              {"batch", "mapping", "its keys' defaults", "Micro-batching."},
              {"runtime", "mapping", "its keys' defaults", "Threads, state, commits and delivery guarantee."},
              {"http", "mapping", "its keys' defaults", "The HTTP server: metrics, health and the API."},
          }};
}

SectionDoc SourceDoc() {
  const SourceSpec s;
  return {
      Section::kSource,
      "source",
      "`source` and `labels.source`",
      "Where events come from: a Kafka topic or a JSONL file. `labels.source` takes the same keys for "
      "the label stream, of the same kind; there only `kind`, `topic`, `path` and `key` are used "
      "(the events' consumer reads the labels too).",
      {
          {"kind", "`kafka` | `file`", DocString(SourceKindName(s.kind)),
           "A Kafka topic, or a JSONL file (one event per line)."},
          {"topic", "string", "required with `kafka`", "Kafka: the topic consumed."},
          {"group", "string", "`vigil-<name>`",
           "Kafka: the consumer group id. Processes with the same group share the partitions; it also "
           "names the changelog, repartition topics and transactional ids."},
          {"path", "string", "required with `file`",
           "File: the JSONL file read, relative to the pipeline file's folder."},
          {"key", "string", DocString(s.key),
           "Kafka: the event field whose value producers use as the record key (an integer is keyed by "
           "its decimal text). Lets `POST /v1/score` find the partition that holds the event's state "
           "(none: the request must say `?key=`, or the topic has one partition). With it, a window "
           "keyed by another field starts a stage that reads a repartition topic keyed by that field. In "
           "`labels.source`: the event field the label "
           "records are keyed by, `source.key` when not given."},
          {"partitioner", "`murmur2_random` | `consistent_random`", DocString(s.partitioner),
           "Kafka: how producers map keys to partitions: the Java client's default (so events and labels "
           "produced by any Kafka client co-partition) or librdkafka's own (CRC32). vigil's producers use "
           "it too."},
      }};
}

SectionDoc KafkaDoc() {
  const KafkaSpec k;
  return {Section::kKafka,
          "kafka",
          "`kafka`",
          "Settings of the librdkafka clients: the consumer of events and labels and the producers of "
          "outputs, dead letters and changelogs.",
          {
              {"bootstrap", "string", DocString(k.bootstrap),
               "`bootstrap.servers`; `vigil run --bootstrap` overrides it."},
              {"properties", "map of strings", "none",
               "librdkafka properties given to every client as they are."},
              {"consumer", "map of strings", "none",
               "librdkafka properties of the consumer only; they win over "
               "`properties`."},
              {"producer", "map of strings", "none",
               "librdkafka properties of the producers only; they win over "
               "`properties`."},
          }};
}

SectionDoc SchemaDoc() {
  const SchemaSpec s;
  return {
      Section::kSchema,
      "schema",
      "`schema`",
      "The input events: JSON objects whose top-level keys are the fields. `parse`, the first operator "
      "of every pipeline, checks each event against them; an event that fails goes to the dead letters "
      "with its reason (`invalid_json`, `invalid_utf8`, `missing_field`, `wrong_type`, `out_of_range`, "
      "`invalid_enum`, `too_large`, `future`).",
      {
          {"fields", "list of mappings", "required", "The fields, with unique names: see `schema.fields[]`."},
          {"event_time", "string", "required",
           "The field that gives event time: a required `timestamp` field."},
          {"key", "string", DocString(s.key),
           "The schema field whose value is the record key of outputs; none: unkeyed records."},
          {"max_event_bytes", "integer", DocInt(static_cast<int64_t>(s.max_event_bytes)),
           "Bytes; a larger event is dead-lettered `too_large`."},
          {"max_future", "duration", DocDuration(s.max_future_ms),
           "An event whose time is more than this ahead of its partition's progress (the latest event "
           "time accepted on the partition, or the wall clock when that is later) is dead-lettered "
           "`future` before any operator sees it. Positive."},
      }};
}

SectionDoc SchemaFieldDoc() {
  const FieldSpec f;
  return {
      Section::kSchemaField,
      "schema.fields[]",
      "`schema.fields[]`",
      "One field of the events.",
      {
          {"name", "string", "required",
           "The JSON key, at the top level of the event; also the column's name."},
          {"type", "`int64` | `double` | `string` | `bool` | `timestamp`", DocString(FieldTypeName(f.type)),
           "The value's type; another is dead-lettered `wrong_type`. A `timestamp` is written as `format` "
           "says."},
          {"required", "bool", DocBool(f.required),
           "A missing required field is dead-lettered `missing_field`."},
          {"min", "number", "none", "Numbers: inclusive lower bound; below it, `out_of_range`."},
          {"max", "number", "none", "Numbers: inclusive upper bound; above it, `out_of_range`."},
          {"enum", "list of strings", "none",
           "Strings only: the allowed values; another is dead-lettered `invalid_enum`."},
          {"format", "`epoch_ms` | `epoch_s` | `iso8601`", DocString(TimeFormatName(f.time_format)),
           "Timestamps: how the time is written."},
      }};
}

SectionDoc LabelsDoc() {
  const LabelsSpec l;
  return {
      Section::kLabels,
      "labels",
      "`labels`",
      "The label stream: outcomes (fraud or not) of earlier events, arriving later. Labels are read "
      "partition by partition alongside the events (co-partitioned: same partition count, same key and "
      "partitioner) and joined to them by id; an event at time t sees a label only if the label's time "
      "is at most t. A second label for an id replaces the first from its own time on. Labels are read "
      "while no event arrives too: the outcomes that wait for them (a score's performance monitor, "
      "feature log, outcomes topic and rollout) mature in a quiet stream.",
      {
          {"source", "mapping", "required",
           "A Kafka topic (for a Kafka source) or a JSONL file (for a file source): the keys of `source`."},
          {"id", "string", DocString(l.id),
           "Join key: the event id field (a required `int64` schema field), also the label records' id "
           "field."},
          {"label", "string", DocString(l.label), "The label records' label field: a number, 1 for fraud."},
          {"time", "string", DocString(l.time),
           "The label records' field giving when the label became known, "
           "epoch ms."},
          {"max_wait", "duration", DocDuration(l.max_wait_ms),
           "Longest a batch waits, in total, for the label stream to reach its events' time before it is "
           "scored with the labels read so far (counted in `vigil_label_wait_timeouts_total`). 0 to `10s`, "
           "well under `runtime.commit_interval`: the commit waits for the batch."},
      }};
}

SectionDoc SinkDoc() {
  const SinkSpec s;
  return {
      Section::kSink,
      "output",
      "`output` and `dead_letter`",
      "Where records go. `output` receives a record for each event that passed the schema and every "
      "operator. `dead_letter` takes the same keys and receives each rejected event's original bytes "
      "with its reason (Kafka headers `vigil.reason`, `vigil.field`, `vigil.source.*`); `fields` and "
      "`format` apply to `output` only.",
      {
          {"kind", "`kafka` | `file` | `none`", DocString(SinkKindName(SinkSpec::kDefaultKind)),
           "A Kafka topic, a file, or nothing."},
          {"topic", "string", "required with `kafka`",
           "Kafka: the topic written; under exactly-once, read it with `isolation.level=read_committed`."},
          {"path", "string", "required with `file`",
           "File: the file written, one record a line, relative to the pipeline file's folder."},
          {"format", "`json` | `csv`", DocString(SinkFormatName(s.format)),
           "JSON objects, or CSV lines after a header line (file sinks only)."},
          {"fields", "list of strings or mappings", "every column",
           "The output columns, in order: a column name, or a mapping (see `output.fields[]`). Not given: "
           "every column, in schema order."},
      }};
}

SectionDoc OutputFieldDoc() {
  return {
      Section::kOutputField,
      "output.fields[]",
      "`output.fields[]`",
      "An entry of `output.fields` written as a mapping, to rename a column; a plain name `X` means "
      "`{name: X, from: X}`.",
      {
          {"name", "string", "required", "The column's name in the output record."},
          {"from", "string", "`name`", "The column it is read from: a schema field or an operator output."},
      }};
}

SectionDoc BatchDoc() {
  const BatchSpec b;
  return {
      Section::kBatch,
      "batch",
      "`batch`",
      "Micro-batching: a task's batch, the unit of work, takes the events already fetched, up to "
      "`max_events`; it never waits for more, so a busy stream comes in full batches and a quiet "
      "one's events go on at once. A task with nothing to read waits up to `max_wait` for its "
      "first event.",
      {
          {"max_events", "integer", DocInt(static_cast<int64_t>(b.max_events)),
           "Events per batch at most, 1..100000."},
          {"max_wait", "duration", DocDuration(b.max_wait_ms),
           "Longest a task with nothing to read waits for an event (a worker with several tasks polls them "
           "instead, every 1-2 ms)."},
      }};
}

SectionDoc RuntimeDoc() {
  const RuntimeSpec r;
  return {
      Section::kRuntime,
      "runtime",
      "`runtime`",
      "Process-level settings. Each input partition is a task with its own RocksDB store; a pool of "
      "workers runs the tasks batch by batch.",
      {
          {"workers", "integer", DocInt(r.workers), "Worker threads running the tasks, 1..256."},
          {"state_dir", "string", DocString(r.state_dir),
           "The tasks' RocksDB directories, relative to the pipeline file's folder; `vigil run --state-dir` "
           "overrides it."},
          {"commit_interval", "duration", DocDuration(r.commit_interval_ms),
           "How often offsets, outputs and state are committed; positive. A commit starts this long after "
           "the previous one started (at least a quarter of it after that one ended), so under "
           "exactly-once a decision waits at most about the interval plus one commit to be readable."},
          {"memory", "size", "`" + FormatBytes(r.memory_bytes) + "`",
           "One byte budget for the state of every task of the process together (`1GiB`, `512MiB`, `2GB`, "
           "or a number of bytes; at least `16MiB`), split as: half for one RocksDB block cache shared by "
           "every store (data, index and filter blocks), in which the memtables of every store are charged "
           "and bounded to an eighth of the budget (beyond it a store's memtable is flushed; a commit's "
           "write "
           "lands whole in one memtable, so until flushed they may exceed it by what the last commits "
           "changed); half for the "
           "write-back caches in front of the stores (the decoded state of hot keys, measured as key + value "
           "+ 48 bytes per entry): while they are over it together, each evicts its least recently used "
           "unchanged entries at every commit down to its allowance (an even share, plus an even part of "
           "what smaller caches leave unused). With `1GiB`: 512 MiB of block cache (at most 128 MiB of it "
           "memtables) and 512 MiB of write-back caches. Not counted: batches, a commit's staged changes, "
           "Kafka clients' buffers, scoring and monitoring state. `vigil_state_memory_bytes{kind}` reports "
           "each part."},
          {"cache_max_keys", "integer", DocInt(static_cast<int64_t>(r.cache_max_keys)),
           "Upper bound, in keys, of each write-back cache (one per stateful operator and task) in front of "
           "its store, within `memory`."},
          {"guarantee", "`exactly_once` | `at_least_once`", DocString(GuaranteeName(r.guarantee)),
           "`exactly_once`: with a Kafka source and Kafka sinks, one Kafka transaction per commit interval "
           "holds the outputs, dead letters, changelog records and consumed offsets; readers use "
           "read_committed. `at_least_once`: no transactions (lower latency; a crash may repeat outputs). "
           "File pipelines are at-least-once."},
          {"instance_id", "string", "`<hostname>-<8 hex digits>`",
           "Names this process among its group's instances: the transactional id is "
           "`<group>.<instance_id>`, so a restart fences its previous incarnation. The default (for the "
           "transactional id only) hashes the absolute `state_dir`; an id given here or by "
           "`vigil run --instance-id` also makes the process a static member of its group."},
          {"changelog", "bool", DocBool(r.changelog),
           "Back each task's store with the compacted topic `<group>.<input topic>.changelog` (Kafka "
           "sources; created with `cleanup.policy=compact`, `max.message.bytes=1048588`, "
           "`segment.bytes=16777216`): a task restores "
           "its state from it when its partition is assigned."},
          {"idle_timeout", "duration", DocDuration(r.idle_timeout_ms),
           "A partition that gave no accepted event for this long counts as idle: it no longer holds the "
           "other partitions of its stage back in event-time alignment. Positive."},
      }};
}

SectionDoc HttpDoc() {
  const HttpSpec h;
  return {
      Section::kHttp,
      "http",
      "`http`",
      "The HTTP server of `vigil run`: `/metrics`, `/healthz`, `/readyz`, and the scoring and models API.",
      {
          {"enabled", "bool", DocBool(h.enabled), "Serve HTTP at all."},
          {"bind", "string", DocString(h.bind), "Address listened on."},
          {"port", "integer", DocInt(h.port),
           "0..65535; 0 picks a free port. `vigil run --http-port` overrides it."},
          {"token_env", "string", DocString(h.token_env),
           "Environment variable holding the bearer token that mutating calls need; when it is unset or "
           "empty, they are refused (403)."},
          {"threads", "integer", DocInt(h.threads), "Server threads, on which handlers run, 1..64."},
          {"max_connections", "integer", DocInt(h.max_connections),
           "Open connections at most, 1..100000; more get 503."},
          {"score_updates_state", "bool", DocBool(h.score_updates_state),
           "`POST /v1/score` also applies the event to the state, as if it came from the stream (it is "
           "then not replayed after a crash), and needs the token. `false`: scoring changes nothing."},
      }};
}

}  // namespace

std::vector<SectionDoc> FileSections() {
  std::vector<SectionDoc> sections = {
      TopLevelDoc(),    SourceDoc(), KafkaDoc(), SchemaDoc(),
      SchemaFieldDoc(), LabelsDoc(), SinkDoc(),  OutputFieldDoc(),
  };
  for (SectionDoc& s : TrainSections()) sections.push_back(std::move(s));
  for (SectionDoc s : {BatchDoc(), RuntimeDoc(), HttpDoc()}) sections.push_back(std::move(s));
  return sections;
}

}  // namespace vigil::config
