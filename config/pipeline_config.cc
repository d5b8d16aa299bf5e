#include "config/pipeline_config.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/yaml_reader.h"

namespace vigil::config {
namespace {

using base::Status;

Status ParseFieldType(const YamlReader& r, const YAML::Node& node, FieldSpec* f) {
  static const std::map<std::string, FieldType> kTypes = {{"int64", FieldType::kInt64},
                                                          {"double", FieldType::kDouble},
                                                          {"string", FieldType::kString},
                                                          {"bool", FieldType::kBool},
                                                          {"timestamp", FieldType::kTimestamp}};
  std::string type(FieldTypeName(f->type));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "type", &type));
  auto it = kTypes.find(type);
  if (it == kTypes.end())
    return r.Error(node["type"],
                   "unknown field type '" + type + "'; expected int64, double, string, bool or timestamp");
  f->type = it->second;
  std::string format(TimeFormatName(f->time_format));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "format", &format));
  if (format == "epoch_ms")
    f->time_format = TimeFormat::kEpochMillis;
  else if (format == "epoch_s")
    f->time_format = TimeFormat::kEpochSeconds;
  else if (format == "iso8601")
    f->time_format = TimeFormat::kIso8601;
  else
    return r.Error(node["format"],
                   "unknown time format '" + format + "'; expected epoch_ms, epoch_s or iso8601");
  return Status::OK();
}

Status ParseSchema(const YamlReader& r, const YAML::Node& node, SchemaSpec* s) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "schema", Section::kSchema));
  s->loc = r.Loc(node);
  VIGIL_RETURN_IF_ERROR(r.Read(node, "event_time", &s->event_time));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "key", &s->key));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "max_event_bytes", &s->max_event_bytes));
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "max_future", &s->max_future_ms));
  if (s->max_future_ms < 1)
    return r.Error(node["max_future"], "max_future: expected a positive duration, e.g. 1d");
  VIGIL_ASSIGN_OR_RETURN(YAML::Node fields, r.Required(node, "fields"));
  VIGIL_RETURN_IF_ERROR(r.ExpectSeq(fields, "schema.fields"));
  std::set<std::string> seen;
  for (const auto& fn : fields) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(fn, "a schema field", Section::kSchemaField));
    FieldSpec f;
    f.loc = r.Loc(fn);
    VIGIL_ASSIGN_OR_RETURN(YAML::Node name, r.RequiredScalar(fn, "name"));
    f.name = name.Scalar();
    if (!seen.insert(f.name).second) return r.Error(name, "duplicate field '" + f.name + "'");
    VIGIL_RETURN_IF_ERROR(ParseFieldType(r, fn, &f));
    VIGIL_RETURN_IF_ERROR(r.Read(fn, "required", &f.required));
    if (fn["min"]) {
      double v = 0;
      VIGIL_RETURN_IF_ERROR(r.Read(fn, "min", &v));
      f.min = v;
    }
    if (fn["max"]) {
      double v = 0;
      VIGIL_RETURN_IF_ERROR(r.Read(fn, "max", &v));
      f.max = v;
    }
    if (YAML::Node e = fn["enum"]) {
      VIGIL_RETURN_IF_ERROR(r.ExpectSeq(e, "enum"));
      if (f.type != FieldType::kString) return r.Error(e, "'enum' applies to string fields only");
      for (const auto& v : e) {
        if (!v.IsScalar()) return r.Error(v, "expected an allowed value (a string)");
        f.allowed.push_back(v.Scalar());
      }
    }
    s->fields.push_back(std::move(f));
  }
  if (s->event_time.empty()) return r.Error(node, "missing required key 'event_time' (the timestamp field)");
  const FieldSpec* et = nullptr;
  for (const auto& f : s->fields)
    if (f.name == s->event_time) et = &f;
  if (et == nullptr)
    return r.Error(node["event_time"], "event_time '" + s->event_time + "' is not a schema field");
  if (et->type != FieldType::kTimestamp || !et->required)
    return r.Error(node["event_time"],
                   "event_time '" + s->event_time + "' must be a required timestamp field");
  if (!s->key.empty() && !seen.count(s->key))
    return r.Error(node["key"], "key '" + s->key + "' is not a schema field");
  return Status::OK();
}

Status ParseSource(const YamlReader& r, const YAML::Node& node, SourceSpec* s) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "source", Section::kSource));
  s->loc = r.Loc(node);
  std::string kind(SourceKindName(s->kind));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "kind", &kind));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "topic", &s->topic));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "group", &s->group));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "path", &s->path));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "key", &s->key));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "partitioner", &s->partitioner));
  if (s->partitioner != "consistent_random" && s->partitioner != "murmur2_random")
    return r.Error(node["partitioner"], "partitioner: expected consistent_random or murmur2_random");
  if (kind == "kafka") {
    s->kind = SourceSpec::Kind::kKafka;
    if (s->topic.empty()) return r.Error(node, "a kafka source needs 'topic'");
  } else if (kind == "file") {
    s->kind = SourceSpec::Kind::kFile;
    if (s->path.empty()) return r.Error(node, "a file source needs 'path'");
  } else {
    return r.Error(node["kind"], "unknown source kind '" + kind + "'; expected kafka or file");
  }
  return Status::OK();
}

Status ParseSink(const YamlReader& r, const YAML::Node& node, std::string_view what, SinkSpec* s) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, what, Section::kSink));
  std::string format(SinkFormatName(s->format));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "format", &format));
  if (format == "csv")
    s->format = SinkSpec::Format::kCsv;
  else if (format == "json")
    s->format = SinkSpec::Format::kJson;
  else
    return r.Error(node["format"], "format: expected json or csv");
  s->loc = r.Loc(node);
  std::string kind(SinkKindName(SinkSpec::kDefaultKind));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "kind", &kind));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "topic", &s->topic));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "path", &s->path));
  if (kind == "kafka")
    s->kind = SinkSpec::Kind::kKafka;
  else if (kind == "file")
    s->kind = SinkSpec::Kind::kFile;
  else if (kind == "none")
    s->kind = SinkSpec::Kind::kNone;
  else
    return r.Error(node["kind"], "unknown sink kind '" + kind + "'; expected kafka, file or none");
  if (s->kind == SinkSpec::Kind::kKafka && s->topic.empty())
    return r.Error(node, std::string(what) + ": a kafka sink needs 'topic'");
  if (s->kind == SinkSpec::Kind::kFile && s->path.empty())
    return r.Error(node, std::string(what) + ": a file sink needs 'path'");
  if (s->kind == SinkSpec::Kind::kKafka && s->format == SinkSpec::Format::kCsv)
    return r.Error(node["format"], std::string(what) + ": csv is for file sinks");
  if (YAML::Node fields = node["fields"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectSeq(fields, "fields"));
    for (const auto& f : fields) {
      OutputField of;
      of.loc = r.Loc(f);
      if (f.IsScalar()) {
        of.name = of.from = f.Scalar();
      } else {
        VIGIL_RETURN_IF_ERROR(r.ExpectMap(f, "an output field", Section::kOutputField));
        VIGIL_ASSIGN_OR_RETURN(YAML::Node name, r.RequiredScalar(f, "name"));
        of.name = of.from = name.Scalar();
        VIGIL_RETURN_IF_ERROR(r.Read(f, "from", &of.from));
      }
      s->fields.push_back(std::move(of));
    }
  }
  return Status::OK();
}

}  // namespace

// Operators are parsed in operator_specs.cc; a score operator's `retrain:` starts from `retrain_defaults`.
Status ParseOperators(const YamlReader& r, const YAML::Node& node, const RetrainSpec& retrain_defaults,
                      std::vector<OperatorSpec>* out);
// `train:` is parsed in train_spec.cc.
Status ParseTrain(const YamlReader& r, const YAML::Node& node, TrainSpec* t);
//! The defaults of `retrain:` keys: RetrainSpec's own, or those that `train` (the section's node, null
//! if absent, and `t`, its parsed form) gives.
RetrainSpec RetrainDefaults(const YAML::Node& train, const TrainSpec& t);

namespace {

Status ParseLabels(const YamlReader& r, const YAML::Node& node, PipelineSpec* p) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "labels", Section::kLabels));
  LabelsSpec& l = p->labels;
  l.enabled = true;
  l.loc = r.Loc(node);
  VIGIL_ASSIGN_OR_RETURN(YAML::Node source, r.Required(node, "source"));
  VIGIL_RETURN_IF_ERROR(ParseSource(r, source, &l.source));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "id", &l.id));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "label", &l.label));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "time", &l.time));
  int64_t wait = l.max_wait_ms;
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "max_wait", &wait));
  if (wait < 0 || wait > 10'000)
    return r.Error(node["max_wait"], "max_wait: expected 0 to 10s (a commit waits for the batch that waits)");
  l.max_wait_ms = static_cast<int>(wait);
  if (l.source.kind != p->source.kind)
    return r.Error(source, "labels must come from the same kind of source as the events");
  const FieldSpec* id = nullptr;
  bool key_known = l.source.key.empty();
  for (const auto& f : p->schema.fields) {
    if (f.name == l.id) id = &f;
    key_known = key_known || f.name == l.source.key;
  }
  if (!key_known)
    return r.Error(source["key"],
                   "labels.source.key '" + l.source.key +
                       "' must be a field of the schema: the event field the label records are keyed by");
  if (id == nullptr || id->type != FieldType::kInt64 || !id->required)
    return r.Error(node, "labels.id '" + l.id + "' must be a required int64 field of the schema");
  return Status::OK();
}

Status ParseRuntime(const YamlReader& r, const YAML::Node& node, RuntimeSpec* s) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(node, "runtime", Section::kRuntime));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "workers", &s->workers));
  if (s->workers < 1 || s->workers > 256) return r.Error(node["workers"], "workers: expected 1..256");
  VIGIL_RETURN_IF_ERROR(r.Read(node, "state_dir", &s->state_dir));
  int64_t commit = s->commit_interval_ms;
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "commit_interval", &commit));
  if (commit < 1) return r.Error(node["commit_interval"], "commit_interval: expected a positive duration");
  s->commit_interval_ms = static_cast<int>(commit);
  VIGIL_RETURN_IF_ERROR(r.ReadDuration(node, "idle_timeout", &s->idle_timeout_ms));
  if (s->idle_timeout_ms < 1)
    return r.Error(node["idle_timeout"], "idle_timeout: expected a positive duration");
  VIGIL_RETURN_IF_ERROR(r.Read(node, "cache_max_keys", &s->cache_max_keys));
  if (YAML::Node memory = node["memory"]) {
    if (!memory.IsScalar()) return r.Error(memory, "memory: expected a size like 1GiB or 512MiB");
    auto bytes = ParseBytes(memory.Scalar());
    if (!bytes.ok()) return r.Error(memory, "memory: " + bytes.status().message());
    if (*bytes < RuntimeSpec::kMinMemoryBytes)
      return r.Error(memory, "memory: " + memory.Scalar() + " is below the minimum of 16MiB");
    s->memory_bytes = *bytes;
  }
  VIGIL_RETURN_IF_ERROR(r.Read(node, "instance_id", &s->instance_id));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "changelog", &s->changelog));
  std::string g(GuaranteeName(s->guarantee));
  VIGIL_RETURN_IF_ERROR(r.Read(node, "guarantee", &g));
  if (g == "at_least_once")
    s->guarantee = Guarantee::kAtLeastOnce;
  else if (g == "exactly_once")
    s->guarantee = Guarantee::kExactlyOnce;
  else
    return r.Error(node["guarantee"], "guarantee: expected at_least_once or exactly_once");
  return Status::OK();
}

Status ParseDocument(const YamlReader& r, const YAML::Node& root, PipelineSpec* p) {
  VIGIL_RETURN_IF_ERROR(r.ExpectMap(root, "the pipeline file", Section::kPipeline));
  VIGIL_RETURN_IF_ERROR(r.Read(root, "name", &p->name));
  VIGIL_ASSIGN_OR_RETURN(YAML::Node source, r.Required(root, "source"));
  VIGIL_RETURN_IF_ERROR(ParseSource(r, source, &p->source));
  if (p->source.group.empty()) p->source.group = "vigil-" + p->name;
  if (YAML::Node k = root["kafka"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(k, "kafka", Section::kKafka));
    VIGIL_RETURN_IF_ERROR(r.Read(k, "bootstrap", &p->kafka.bootstrap));
    VIGIL_RETURN_IF_ERROR(r.Read(k, "properties", &p->kafka.properties));
    VIGIL_RETURN_IF_ERROR(r.Read(k, "consumer", &p->kafka.consumer));
    VIGIL_RETURN_IF_ERROR(r.Read(k, "producer", &p->kafka.producer));
  }
  VIGIL_ASSIGN_OR_RETURN(YAML::Node schema, r.Required(root, "schema"));
  VIGIL_RETURN_IF_ERROR(ParseSchema(r, schema, &p->schema));
  if (YAML::Node labels = root["labels"]) VIGIL_RETURN_IF_ERROR(ParseLabels(r, labels, p));
  // `train:` first: its keys are the defaults of the score operators' `retrain:`.
  const YAML::Node train = root["train"];
  if (train) VIGIL_RETURN_IF_ERROR(ParseTrain(r, train, &p->train));
  if (YAML::Node ops = root["operators"])
    VIGIL_RETURN_IF_ERROR(ParseOperators(r, ops, RetrainDefaults(train, p->train), &p->operators));
  for (OperatorSpec& op : p->operators)
    if (auto* score = std::get_if<ScoreSpec>(&op.params); score != nullptr && score->outcomes.empty())
      score->outcomes =
          p->source.group + "." + (p->source.topic.empty() ? "" : p->source.topic + ".") + "outcomes";
  if (YAML::Node features = root["features"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectSeq(features, "features"));
    p->features_loc = r.Loc(features);
    for (const auto& f : features) {
      if (!f.IsScalar()) return r.Error(f, "expected a column name");
      p->features.push_back(f.Scalar());
    }
  }
  VIGIL_ASSIGN_OR_RETURN(YAML::Node output, r.Required(root, "output"));
  VIGIL_RETURN_IF_ERROR(ParseSink(r, output, "output", &p->output));
  if (YAML::Node dlq = root["dead_letter"])
    VIGIL_RETURN_IF_ERROR(ParseSink(r, dlq, "dead_letter", &p->dead_letter));
  if (YAML::Node b = root["batch"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(b, "batch", Section::kBatch));
    VIGIL_RETURN_IF_ERROR(r.Read(b, "max_events", &p->batch.max_events));
    if (p->batch.max_events < 1 || p->batch.max_events > 100000)
      return r.Error(b["max_events"], "max_events: expected 1..100000");
    int64_t wait = p->batch.max_wait_ms;
    VIGIL_RETURN_IF_ERROR(r.ReadDuration(b, "max_wait", &wait));
    p->batch.max_wait_ms = static_cast<int>(wait);
  }
  if (YAML::Node rt = root["runtime"]) VIGIL_RETURN_IF_ERROR(ParseRuntime(r, rt, &p->runtime));
  if (YAML::Node h = root["http"]) {
    VIGIL_RETURN_IF_ERROR(r.ExpectMap(h, "http", Section::kHttp));
    VIGIL_RETURN_IF_ERROR(r.Read(h, "threads", &p->http.threads));
    if (p->http.threads < 1 || p->http.threads > 64) return r.Error(h["threads"], "threads: expected 1..64");
    VIGIL_RETURN_IF_ERROR(r.Read(h, "max_connections", &p->http.max_connections));
    if (p->http.max_connections < 1 || p->http.max_connections > 100000)
      return r.Error(h["max_connections"], "max_connections: expected 1..100000");
    VIGIL_RETURN_IF_ERROR(r.Read(h, "score_updates_state", &p->http.score_updates_state));
    VIGIL_RETURN_IF_ERROR(r.Read(h, "enabled", &p->http.enabled));
    VIGIL_RETURN_IF_ERROR(r.Read(h, "bind", &p->http.bind));
    VIGIL_RETURN_IF_ERROR(r.Read(h, "port", &p->http.port));
    VIGIL_RETURN_IF_ERROR(r.Read(h, "token_env", &p->http.token_env));
    if (p->http.port < 0 || p->http.port > 65535) return r.Error(h["port"], "port: expected 0..65535");
  }
  return Status::OK();
}

}  // namespace

std::string Location::ToString() const {
  if (file.empty()) return "<built-in>";
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

base::Status ConfigError(const Location& loc, std::string_view message) {
  return base::InvalidArgument(loc.ToString() + ": " + std::string(message));
}

base::Result<PipelineSpec> LoadPipelineText(const std::string& text, const std::string& file) {
  YamlReader reader(file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return ConfigError(Location{file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
  }
  PipelineSpec spec;
  spec.file = file;
  try {
    VIGIL_RETURN_IF_ERROR(ParseDocument(reader, root, &spec));
  } catch (const YAML::Exception& e) {
    return ConfigError(Location{file, e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
  return spec;
}

namespace {

//! Makes a relative `path` relative to `base` (the pipeline file's folder) instead of the working
//! directory, so a pipeline means the same wherever it is started from. Empty stays empty.
void ResolveAgainst(const std::filesystem::path& base, std::string* path) {
  if (path->empty() || std::filesystem::path(*path).is_absolute()) return;
  *path = (base / *path).lexically_normal().string();
}

}  // namespace

base::Result<PipelineSpec> LoadPipelineFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("cannot open config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  VIGIL_ASSIGN_OR_RETURN(PipelineSpec spec, LoadPipelineText(buffer.str(), path));
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  for (std::string* p : {&spec.source.path, &spec.labels.source.path, &spec.output.path,
                         &spec.dead_letter.path, &spec.runtime.state_dir})
    ResolveAgainst(base, p);
  for (OperatorSpec& op : spec.operators) {
    if (auto* score = std::get_if<ScoreSpec>(&op.params)) {
      ResolveAgainst(base, &score->registry);
      ResolveAgainst(base, &score->feature_log);
    }
  }
  return spec;
}

}  // namespace vigil::config
