// fuzz_event: one raw event through the pipeline's real path. The input is the payload of one event;
// Task::Query (the path of POST /v1/score, read-only so the state stays empty) runs it through parse,
// derive and three windows of event_pipeline.yaml, then the row is encoded as the sinks would.
// Invariants (abort on violation): operators never fail on an event; a row is either accepted or
// carries a dead-letter reason with a sensible field; an accepted row satisfies the schema, its
// window outputs are those of a first event, and its output record is valid JSON.

#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "config/pipeline_config.h"
#include "engine/pipeline.h"
#include "engine/task.h"
#include "operators/register.h"

namespace vigil::fuzz {
namespace {

using engine::Batch;
using engine::DlqReason;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_event: invariant violated: %s\n", what);
  std::abort();
}

void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}

//! The bound pipeline and one task over a store in a private temporary directory, made once.
struct Fixture {
  engine::OperatorRegistry registry;
  std::unique_ptr<engine::Pipeline> pipeline;  // bound only: the task is driven here
  const engine::Plan* plan = nullptr;
  std::unique_ptr<engine::Task> task;
  std::string dir;
  simdjson::dom::parser json;
  std::string encoded;

  Fixture() {
    Check(operators::RegisterOperators(&registry).ok(), "operators register");
    auto spec = config::LoadPipelineFile(VIGIL_FUZZ_EVENT_PIPELINE);
    if (!spec.ok()) Fail(spec.status().ToString().c_str());
    auto built = engine::Pipeline::Build({*spec}, registry, nullptr);
    if (!built.ok()) Fail(built.status().ToString().c_str());
    pipeline = std::move(built).value();
    plan = &pipeline->plan(0);
    std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-fuzz-event-XXXXXX").string();
    Check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    dir = tmpl;
    auto opened = engine::Task::Open(*plan, 0, engine::TaskOptions{dir + "/store", "fuzz", 1000}, nullptr);
    if (!opened.ok()) Fail(opened.status().ToString().c_str());
    task = std::move(opened).value();
  }
  ~Fixture() {
    (void)task->Close();
    task.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  int Column(std::string_view name) const {
    const int c = plan->schema().Find(name);
    Check(c >= 0, "column of the fuzz pipeline");
    return c;
  }
};

Fixture& GetFixture() {
  static Fixture fixture;
  return fixture;
}

void CheckDropped(const Fixture& fx, const Batch& batch, size_t row) {
  const engine::RowMeta& meta = batch.meta(row);
  const auto reason = static_cast<int>(meta.reason);
  Check(reason > static_cast<int>(DlqReason::kNone) && reason <= static_cast<int>(DlqReason::kFuture),
        "a dropped row has a known reason");
  Check(engine::DlqReasonName(meta.reason) != "unknown", "the reason has a name");
  Check(meta.detail_column >= -1 && meta.detail_column < batch.schema().size(), "detail column in range");
  const auto fields = static_cast<int>(fx.plan->spec().schema.fields.size());
  switch (meta.reason) {
    case DlqReason::kMissingField:
    case DlqReason::kWrongType:
    case DlqReason::kOutOfRange:
    case DlqReason::kInvalidEnum:
      Check(meta.detail_column >= 0 && meta.detail_column < fields, "a field reason names a schema field");
      break;
    case DlqReason::kTooLarge:
    case DlqReason::kInvalidUtf8:
      Check(meta.detail_column == -1, "a payload reason names no field");
      break;
    default:
      break;
  }
}

void CheckFields(const Fixture& fx, const Batch& batch, size_t row) {
  const config::SchemaSpec& schema = fx.plan->spec().schema;
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const config::FieldSpec& f = schema.fields[i];
    const int c = static_cast<int>(i);
    if (batch.is_null(row, c)) {
      Check(!f.required, "an accepted row has every required field");
      continue;
    }
    switch (f.type) {
      case config::FieldType::kDouble:
      case config::FieldType::kInt64:
      case config::FieldType::kTimestamp: {
        const double v = batch.AsDouble(row, c);
        Check(std::isfinite(v), "an accepted number is finite");
        Check(!f.min || v >= *f.min, "an accepted number respects min");
        Check(!f.max || v <= *f.max, "an accepted number respects max");
        break;
      }
      case config::FieldType::kBool:
        Check(batch.i64(row, c) == 0 || batch.i64(row, c) == 1, "a bool cell is 0 or 1");
        break;
      case config::FieldType::kString: {
        const std::string_view s = batch.str(row, c);
        Check(simdjson::validate_utf8(s.data(), s.size()), "an accepted string is valid UTF-8");
        if (!f.allowed.empty()) {
          bool allowed = false;
          for (const std::string& a : f.allowed) allowed = allowed || a == s;
          Check(allowed, "an accepted enum string is one of its values");
        }
        break;
      }
    }
  }
  const int event_time = fx.Column(schema.event_time);
  Check(batch.meta(row).event_time == batch.i64(row, event_time), "event time is the event_time field");
}

void CheckWindows(const Fixture& fx, const Batch& batch, size_t row) {
  // The store is empty and queries are read-only: every event is the first of its keys.
  const double amount = batch.f64(row, fx.Column("TX_AMOUNT"));
  Check(batch.f64(row, fx.Column("CUSTOMER_NB_TX_1DAY")) == 1, "a window counts the current event");
  Check(batch.f64(row, fx.Column("CUSTOMER_AVG_AMOUNT_7DAY")) == amount, "avg of one event is its value");
  Check(batch.f64(row, fx.Column("CUSTOMER_MAX_AMOUNT_30DAY")) == amount, "max of one event is its value");
  Check(batch.f64(row, fx.Column("TERMINAL_NB_TX_7DAY")) == 0, "a delayed window excludes the current event");
  Check(batch.f64(row, fx.Column("TERMINAL_RISK_7DAY")) == 0, "ratio over an empty window is 0");
  Check(batch.f64(row, fx.Column("MERCHANT_SUM_1DAY")) == amount, "sum of one event is its value");
  const double hour = batch.f64(row, fx.Column("TX_HOUR"));
  Check(hour >= 0 && hour <= 23, "hour_of_day in 0..23");
}

void CheckEncoded(Fixture& fx, const Batch& batch, size_t row) {
  const engine::RowEncoder& encoder = fx.plan->output_encoder();
  fx.encoded.clear();
  encoder.EncodeRow(batch, row, &fx.encoded);
  simdjson::dom::element doc;
  Check(fx.json.parse(fx.encoded).get(doc) == simdjson::SUCCESS, "an output record is valid JSON");
  Check(doc.is_object(), "an output record is a JSON object");
  fx.encoded.clear();
  encoder.EncodeKey(batch, row, &fx.encoded);
  Check(!fx.encoded.empty(), "an accepted row has a record key");
  fx.encoded.clear();
  encoder.EncodeCsvRow(batch, row, &fx.encoded);
}

}  // namespace
}  // namespace vigil::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil;
  fuzz::Fixture& fx = fuzz::GetFixture();
  const std::string_view event(reinterpret_cast<const char*>(data), size);
  bool called = false;
  const base::Status st =
      fx.task->Query(event, engine::BatchMode{true, 0}, [&](const engine::Batch& batch, size_t row) {
        called = true;
        fuzz::Check(batch.size() == 1 && row == 0, "a query is one row");
        if (!batch.live(row)) {
          fuzz::CheckDropped(fx, batch, row);
          return;
        }
        fuzz::Check(size <= fx.plan->spec().schema.max_event_bytes, "an accepted event is not too large");
        fuzz::CheckFields(fx, batch, row);
        fuzz::CheckWindows(fx, batch, row);
        fuzz::CheckEncoded(fx, batch, row);
      });
  if (!st.ok()) fuzz::Fail(("operators failed on an event: " + st.ToString()).c_str());
  fuzz::Check(called, "the query reported its row");
  return 0;
}
