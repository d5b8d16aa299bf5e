#include "models/runs.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <vector>

#include "base/json.h"
#include "base/time.h"

namespace vigil::models {
namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kFormat = "vigil-run/1";

using base::JsonString;

//! Empty strings are written as null: "no version", "no parent".
std::string JsonStringOrNull(std::string_view s) { return s.empty() ? "null" : JsonString(s); }

std::string JsonNumber(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string WindowJson(const TimeWindow& w) {
  if (w.empty()) return "null";
  return fmt::format("{{\"start\": {}, \"end\": {}, \"start_ms\": {}, \"end_ms\": {}}}",
                     JsonString(base::Iso8601(w.start_ms)), JsonString(base::Iso8601(w.end_ms)), w.start_ms,
                     w.end_ms);
}

template <typename Map, typename Format>
std::string ObjectJson(const Map& map, Format format) {
  std::vector<std::string> items;
  for (const auto& [key, value] : map) items.push_back(JsonString(key) + ": " + format(value));
  return fmt::format("{{{}}}", fmt::join(items, ", "));
}

//! Reads typed members of one JSON object; the first error sticks and names the member.
class ObjectReader {
 public:
  explicit ObjectReader(dom::object object) : object_(object) {}

  //! The member, or nullopt when it is absent or null.
  std::optional<dom::element> Get(std::string_view key) {
    dom::element e;
    if (object_.at_key(key).get(e) || e.is_null()) return std::nullopt;
    return e;
  }
  void String(std::string_view key, std::string* out) {
    if (auto e = Get(key)) {
      std::string_view s;
      if (e->get_string().get(s)) return Fail(key, "a string");
      *out = std::string(s);
    }
  }
  void Int(std::string_view key, int64_t* out) {
    if (auto e = Get(key); e && e->get_int64().get(*out)) Fail(key, "an integer");
  }
  void Window(std::string_view key, TimeWindow* out) {
    if (auto e = Get(key)) {
      dom::object o;
      if (e->get_object().get(o)) return Fail(key, "an object");
      ObjectReader r(o);
      r.Int("start_ms", &out->start_ms);
      r.Int("end_ms", &out->end_ms);
      if (!r.status_.ok()) status_ = r.status_.WithContext(key);
    }
  }
  void Strings(std::string_view key, std::map<std::string, std::string>* out) {
    if (auto e = Get(key)) {
      dom::object o;
      if (e->get_object().get(o)) return Fail(key, "an object");
      for (dom::key_value_pair kv : o) {
        std::string_view s;
        if (kv.value.get_string().get(s)) return Fail(key, "an object of strings");
        (*out)[std::string(kv.key)] = std::string(s);
      }
    }
  }
  void Numbers(std::string_view key, std::map<std::string, double>* out) {
    if (auto e = Get(key)) {
      dom::object o;
      if (e->get_object().get(o)) return Fail(key, "an object");
      for (dom::key_value_pair kv : o) {
        double d = NAN;
        if (!kv.value.is_null() && kv.value.get_double().get(d)) return Fail(key, "an object of numbers");
        (*out)[std::string(kv.key)] = d;
      }
    }
  }
  void Offsets(std::string_view key, std::vector<OffsetRange>* out) {
    auto e = Get(key);
    if (!e) return;
    dom::array a;
    if (e->get_array().get(a)) return Fail(key, "an array");
    for (dom::element item : a) {
      dom::object o;
      if (item.get_object().get(o)) return Fail(key, "an array of objects");
      ObjectReader r(o);
      OffsetRange range;
      int64_t partition = 0;
      r.String("topic", &range.topic);
      r.Int("partition", &partition);
      r.Int("first", &range.first);
      r.Int("end", &range.end);
      if (!r.status_.ok()) {
        status_ = r.status_.WithContext(key);
        return;
      }
      range.partition = static_cast<int32_t>(partition);
      out->push_back(std::move(range));
    }
  }
  void Search(std::string_view key, SearchRef* out) {
    if (auto e = Get(key)) {
      dom::object o;
      if (e->get_object().get(o)) return Fail(key, "an object");
      ObjectReader r(o);
      int64_t trial = 0, trials = 0;
      r.String("id", &out->id);
      r.Int("trial", &trial);
      r.Int("trials", &trials);
      if (!r.status_.ok()) status_ = r.status_.WithContext(key);
      out->trial = static_cast<int>(trial);
      out->trials = static_cast<int>(trials);
    }
  }
  bool Has(std::string_view key) { return Get(key).has_value(); }
  const base::Status& status() const { return status_; }

 private:
  void Fail(std::string_view key, std::string_view what) {
    if (status_.ok()) status_ = base::Corruption(fmt::format("'{}' is not {}", key, what));
  }

  dom::object object_;
  base::Status status_;
};

base::Result<int64_t> ParseInt(std::string_view text, std::string_view what, std::string_view whole) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0)
    return base::InvalidArgument(
        fmt::format("offset range '{}': {} '{}' is not a non-negative integer", whole, what, text));
  return v;
}

}  // namespace

std::string RunToJson(const RunRecord& r) {
  std::string j = "{\n";
  j += fmt::format("  \"format\": {},\n  \"id\": {},\n  \"trigger\": {},\n", JsonString(kFormat),
                   JsonString(r.id), JsonString(r.trigger));
  j += fmt::format("  \"outcome\": {},\n  \"detail\": {},\n", JsonString(r.outcome), JsonString(r.detail));
  j += fmt::format("  \"started\": {},\n  \"started_ms\": {},\n", JsonString(base::Iso8601(r.started_ms)),
                   r.started_ms);
  if (r.finished_ms > 0) {
    j += fmt::format("  \"finished\": {},\n  \"finished_ms\": {},\n  \"duration_ms\": {},\n",
                     JsonString(base::Iso8601(r.finished_ms)), r.finished_ms, r.duration_ms());
  } else {
    j += "  \"finished\": null,\n  \"finished_ms\": null,\n  \"duration_ms\": null,\n";
  }
  j += fmt::format("  \"input\": {},\n", JsonStringOrNull(r.input));
  j += fmt::format("  \"train_window\": {},\n  \"validation_window\": {},\n", WindowJson(r.train_window),
                   WindowJson(r.validation_window));
  std::vector<std::string> offsets;
  for (const OffsetRange& o : r.offsets) {
    offsets.push_back(fmt::format("{{\"topic\": {}, \"partition\": {}, \"first\": {}, \"end\": {}}}",
                                  JsonString(o.topic), o.partition, o.first, o.end));
  }
  j += fmt::format("  \"offsets\": [{}],\n", fmt::join(offsets, ", "));
  j += fmt::format("  \"params\": {},\n",
                   ObjectJson(r.params, [](const std::string& v) { return JsonString(v); }));
  j += fmt::format("  \"train_metrics\": {},\n",
                   ObjectJson(r.train_metrics, [](double v) { return JsonNumber(v); }));
  j += fmt::format("  \"validation_metrics\": {},\n",
                   ObjectJson(r.validation_metrics, [](double v) { return JsonNumber(v); }));
  j += fmt::format("  \"model_version\": {},\n  \"model_sha256\": {},\n  \"parent\": {},\n",
                   JsonStringOrNull(r.model_version), JsonStringOrNull(r.model_sha256),
                   JsonStringOrNull(r.parent));
  j += fmt::format("  \"search\": {},\n",
                   r.search.empty() ? "null"
                                    : fmt::format("{{\"id\": {}, \"trial\": {}, \"trials\": {}}}",
                                                  JsonString(r.search.id), r.search.trial, r.search.trials));
  j += fmt::format("  \"rollout_metrics\": {}\n}}\n",
                   ObjectJson(r.rollout_metrics, [](double v) { return JsonNumber(v); }));
  return j;
}

base::Result<RunRecord> RunFromJson(std::string_view json, std::string_view what) {
  const auto fail = [what](std::string message) {
    return base::Corruption(fmt::format("{}: {}", what, message));
  };
  dom::parser parser;
  dom::element doc;
  if (auto error = parser.parse(json.data(), json.size()).get(doc))
    return fail(fmt::format("not valid JSON ({})", simdjson::error_message(error)));
  dom::object object;
  if (doc.get_object().get(object)) return fail("not a JSON object");
  ObjectReader in(object);
  std::string format;
  in.String("format", &format);
  if (in.status().ok() && !format.empty() && format != kFormat)
    return fail(fmt::format("format '{}', expected '{}'", format, kFormat));
  for (const char* key : {"id", "started_ms", "outcome"})
    if (!in.Has(key)) return fail(fmt::format("no '{}'", key));
  RunRecord r;
  in.String("id", &r.id);
  in.String("trigger", &r.trigger);
  in.String("outcome", &r.outcome);
  in.String("detail", &r.detail);
  in.Int("started_ms", &r.started_ms);
  in.Int("finished_ms", &r.finished_ms);
  in.String("input", &r.input);
  in.Window("train_window", &r.train_window);
  in.Window("validation_window", &r.validation_window);
  in.Offsets("offsets", &r.offsets);
  in.Strings("params", &r.params);
  in.Numbers("train_metrics", &r.train_metrics);
  in.Numbers("validation_metrics", &r.validation_metrics);
  in.String("model_version", &r.model_version);
  in.String("model_sha256", &r.model_sha256);
  in.String("parent", &r.parent);
  in.Search("search", &r.search);
  in.Numbers("rollout_metrics", &r.rollout_metrics);
  if (!in.status().ok()) return in.status().WithContext(what);
  return r;
}

base::Result<OffsetRange> ParseOffsetRange(std::string_view text) {
  const size_t last = text.rfind(':');
  const size_t mid =
      last == std::string_view::npos || last == 0 ? std::string_view::npos : text.rfind(':', last - 1);
  if (mid == std::string_view::npos || mid == 0)
    return base::InvalidArgument(fmt::format("offset range '{}': expected TOPIC:PARTITION:FIRST-END", text));
  const std::string_view range = text.substr(last + 1);
  const size_t dash = range.find('-');
  if (dash == std::string_view::npos)
    return base::InvalidArgument(
        fmt::format("offset range '{}': expected FIRST-END after the partition", text));
  OffsetRange r;
  r.topic = std::string(text.substr(0, mid));
  VIGIL_ASSIGN_OR_RETURN(const int64_t partition,
                         ParseInt(text.substr(mid + 1, last - mid - 1), "partition", text));
  VIGIL_ASSIGN_OR_RETURN(r.first, ParseInt(range.substr(0, dash), "first offset", text));
  VIGIL_ASSIGN_OR_RETURN(r.end, ParseInt(range.substr(dash + 1), "end offset", text));
  if (partition > INT32_MAX)
    return base::InvalidArgument(fmt::format("offset range '{}': partition too large", text));
  r.partition = static_cast<int32_t>(partition);
  if (r.end < r.first)
    return base::InvalidArgument(fmt::format("offset range '{}': END is before FIRST", text));
  return r;
}

}  // namespace vigil::models
