#include "monitor/reference.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/json.h"
#include "models/registry.h"

namespace vigil::monitor {
namespace {

//! Tolerance on the sum of the fractions of a parsed histogram.
constexpr double kFractionSumTolerance = 1e-6;

using base::JsonString;

std::string HistogramJson(const ReferenceHistogram& h) {
  const std::span<const double> fractions = h.fractions();
  return fmt::format("\"count\": {}, \"edges\": [{}], \"fractions\": [{}], \"missing\": {}", h.count(),
                     fmt::join(h.edges(), ", "), fmt::join(fractions.first(h.num_value_bins()), ", "),
                     h.missing_fraction());
}

//! Reads an array of numbers; `what` names it in errors.
base::Status ReadNumbers(simdjson::dom::element parent, std::string_view key, std::vector<double>& out) {
  simdjson::dom::array array;
  if (parent[key].get_array().get(array))
    return base::InvalidArgument(fmt::format("'{}' is missing or not an array", key));
  out.clear();
  size_t i = 0;
  for (simdjson::dom::element x : array) {
    double d = 0;
    if (x.get_double().get(d)) return base::InvalidArgument(fmt::format("{}[{}] is not a number", key, i));
    out.push_back(d);
    ++i;
  }
  return base::Status::OK();
}

base::Result<ReferenceHistogram> ParseHistogram(simdjson::dom::element e) {
  if (!e.is_object()) return base::InvalidArgument("is not an object");
  int64_t count = 0;
  if (e["count"].get_int64().get(count)) return base::InvalidArgument("'count' is missing or not an integer");
  std::vector<double> edges_in, fractions;
  VIGIL_RETURN_IF_ERROR(ReadNumbers(e, "edges", edges_in));
  VIGIL_RETURN_IF_ERROR(ReadNumbers(e, "fractions", fractions));
  double missing = 0;
  if (e["missing"].get_double().get(missing))
    return base::InvalidArgument("'missing' is missing or not a number");
  if (fractions.size() != edges_in.size() + 1) {
    return base::InvalidArgument(fmt::format("'fractions' has {} values, expected {} (one more than 'edges')",
                                             fractions.size(), edges_in.size() + 1));
  }
  std::vector<float> edges;
  for (size_t i = 0; i < edges_in.size(); ++i) {
    const float f = static_cast<float>(edges_in[i]);
    if (!std::isfinite(f))
      return base::InvalidArgument(fmt::format("edges[{}] = {} is not a finite float", i, edges_in[i]));
    edges.push_back(f);
  }
  fractions.push_back(missing);
  return ReferenceHistogram::Make(std::move(edges), std::move(fractions), count);
}

base::Result<ReferenceSet> ParseSet(simdjson::dom::element root) {
  if (!root.is_object()) return base::InvalidArgument("reference: is not a JSON object");
  std::string_view format;
  if (root["format"].get_string().get(format))
    return base::InvalidArgument("reference: 'format' is missing or not a string");
  if (format != kReferenceFormat) {
    return base::InvalidArgument(fmt::format("reference: format '{}' is not '{}'", format, kReferenceFormat));
  }
  simdjson::dom::array features;
  if (root["features"].get_array().get(features))
    return base::InvalidArgument("reference: 'features' is missing or not an array");
  std::vector<std::string> names;
  std::vector<ReferenceHistogram> histograms;
  size_t i = 0;
  for (simdjson::dom::element f : features) {
    std::string_view name;
    if (f["name"].get_string().get(name)) {
      return base::InvalidArgument(
          fmt::format("reference.features[{}]: 'name' is missing or not a string", i));
    }
    auto h = ParseHistogram(f);
    if (!h.ok())
      return base::InvalidArgument(
          fmt::format("reference.features[{}] '{}': {}", i, name, h.status().message()));
    names.emplace_back(name);
    histograms.push_back(std::move(h).value());
    ++i;
  }
  simdjson::dom::element score;
  if (root["score"].get(score)) return base::InvalidArgument("reference: 'score' is missing");
  auto s = ParseHistogram(score);
  if (!s.ok()) return base::InvalidArgument(fmt::format("reference.score: {}", s.status().message()));
  auto set = ReferenceSet::Make(std::move(names), std::move(histograms), std::move(s).value());
  if (!set.ok()) return set.status().WithContext("reference");
  return set;
}

}  // namespace

base::Result<ReferenceHistogram> ReferenceHistogram::FromValues(std::span<const float> values, int bins) {
  if (bins < 2 || static_cast<size_t>(bins) > kMaxEdges + 1) {
    return base::InvalidArgument(fmt::format("bins must be in [2, {}], got {}", kMaxEdges + 1, bins));
  }
  if (values.empty()) return base::InvalidArgument("a reference histogram needs at least one value");
  std::vector<float> finite;
  finite.reserve(values.size());
  for (const float v : values) {
    if (std::isfinite(v)) finite.push_back(v);
  }
  std::sort(finite.begin(), finite.end());
  ReferenceHistogram h;
  if (!finite.empty() && finite.front() == finite.back()) {
    const float c = finite.front();
    h.edges_ = {std::nextafter(c, -std::numeric_limits<float>::infinity()), c};
  } else if (!finite.empty()) {
    const size_t n = finite.size();
    const size_t b = static_cast<size_t>(bins);
    for (size_t i = 1; i < b; ++i) {
      // The smallest value whose empirical CDF reaches i/b: sorted index ceil(i*n/b) - 1.
      const float edge = finite[(i * n + b - 1) / b - 1];
      if (edge < finite.back() && (h.edges_.empty() || edge > h.edges_.back())) h.edges_.push_back(edge);
    }
  }
  std::vector<int64_t> counts(h.num_bins(), 0);
  for (const float v : values) ++counts[h.BinOf(v)];
  h.count_ = static_cast<int64_t>(values.size());
  h.fractions_.resize(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    h.fractions_[i] = static_cast<double>(counts[i]) / static_cast<double>(h.count_);
  }
  return h;
}

base::Result<ReferenceHistogram> ReferenceHistogram::Make(std::vector<float> edges,
                                                          std::vector<double> fractions, int64_t count) {
  if (edges.size() > kMaxEdges) {
    return base::InvalidArgument(fmt::format("{} edges, at most {} are allowed", edges.size(), kMaxEdges));
  }
  for (size_t i = 0; i < edges.size(); ++i) {
    if (!std::isfinite(edges[i])) return base::InvalidArgument(fmt::format("edges[{}] is not finite", i));
    if (i > 0 && !(edges[i] > edges[i - 1])) {
      return base::InvalidArgument(
          fmt::format("edges[{}] = {} is not greater than edges[{}] = {}", i, edges[i], i - 1, edges[i - 1]));
    }
  }
  if (fractions.size() != edges.size() + 2) {
    return base::InvalidArgument(
        fmt::format("{} fractions for {} edges, expected {} (value bins and missing)", fractions.size(),
                    edges.size(), edges.size() + 2));
  }
  double sum = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    if (!(fractions[i] >= 0 && fractions[i] <= 1)) {
      return base::InvalidArgument(fmt::format("fraction of bin {} is {}, outside [0, 1]", i, fractions[i]));
    }
    sum += fractions[i];
  }
  if (std::fabs(sum - 1) > kFractionSumTolerance) {
    return base::InvalidArgument(fmt::format("fractions sum to {}, expected 1", sum));
  }
  if (count < 1) return base::InvalidArgument(fmt::format("count is {}, expected at least 1", count));
  ReferenceHistogram h;
  h.edges_ = std::move(edges);
  h.fractions_ = std::move(fractions);
  h.count_ = count;
  return h;
}

size_t ReferenceHistogram::BinOf(float value) const {
  if (std::isnan(value)) return missing_bin();
  // Bins are closed on the right: the bin of v is the number of edges below v.
  return static_cast<size_t>(std::lower_bound(edges_.begin(), edges_.end(), value) - edges_.begin());
}

base::Result<ReferenceSet> ReferenceSet::Build(std::span<const std::string> names,
                                               std::span<const float> features, size_t num_rows,
                                               std::span<const float> scores, int bins) {
  if (num_rows == 0) return base::InvalidArgument("a reference set needs at least one row");
  if (features.size() != names.size() * num_rows) {
    return base::InvalidArgument(
        fmt::format("{} feature values for {} features of {} rows", features.size(), names.size(), num_rows));
  }
  if (scores.size() != num_rows) {
    return base::InvalidArgument(fmt::format("{} scores for {} rows", scores.size(), num_rows));
  }
  std::vector<ReferenceHistogram> histograms;
  histograms.reserve(names.size());
  for (size_t f = 0; f < names.size(); ++f) {
    auto h = ReferenceHistogram::FromValues(features.subspan(f * num_rows, num_rows), bins);
    if (!h.ok()) return h.status().WithContext(fmt::format("feature '{}'", names[f]));
    histograms.push_back(std::move(h).value());
  }
  VIGIL_ASSIGN_OR_RETURN(ReferenceHistogram score, ReferenceHistogram::FromValues(scores, bins));
  return Make(std::vector<std::string>(names.begin(), names.end()), std::move(histograms), std::move(score));
}

base::Result<ReferenceSet> ReferenceSet::Make(std::vector<std::string> names,
                                              std::vector<ReferenceHistogram> histograms,
                                              ReferenceHistogram score) {
  if (names.size() != histograms.size()) {
    return base::InvalidArgument(fmt::format("{} names for {} histograms", names.size(), histograms.size()));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) return base::InvalidArgument(fmt::format("feature {} has an empty name", i));
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == names[i])
        return base::InvalidArgument(fmt::format("feature '{}' appears twice", names[i]));
    }
  }
  return ReferenceSet(std::move(names), std::move(histograms), std::move(score));
}

const ReferenceHistogram* ReferenceSet::Find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return &features_[i];
  }
  return nullptr;
}

std::string ReferenceSet::ToJson(std::string_view indent) const {
  std::string j = fmt::format("{{\n{}  \"format\": {},\n{}  \"features\": [", indent,
                              JsonString(kReferenceFormat), indent);
  for (size_t i = 0; i < names_.size(); ++i) {
    j += fmt::format("{}\n{}    {{\"name\": {}, {}}}", i == 0 ? "" : ",", indent, JsonString(names_[i]),
                     HistogramJson(features_[i]));
  }
  j += fmt::format("{}],\n{}  \"score\": {{{}}}\n{}}}", names_.empty() ? "" : fmt::format("\n{}  ", indent),
                   indent, HistogramJson(score_), indent);
  return j;
}

base::Result<ReferenceSet> ReferenceSet::FromJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(json.data(), json.size()).get(root)) {
    return base::InvalidArgument(
        fmt::format("reference: not valid JSON ({})", simdjson::error_message(error)));
  }
  return ParseSet(root);
}

base::Result<ReferenceSet> LoadReference(const std::string& metadata_path) {
  std::ifstream in(metadata_path, std::ios::binary);
  if (!in) return base::NotFound(fmt::format("cannot read '{}'", metadata_path));
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  simdjson::dom::parser parser;
  simdjson::dom::element meta;
  if (const auto error = parser.parse(json).get(meta)) {
    return base::Corruption(
        fmt::format("'{}' is not valid JSON ({})", metadata_path, simdjson::error_message(error)));
  }
  simdjson::dom::element reference;
  if (!meta.is_object() || meta["reference"].get(reference)) {
    return base::NotFound(
        fmt::format("'{}' has no \"reference\" (a model version trained before vigil stored "
                    "reference histograms?)",
                    metadata_path));
  }
  auto set = ParseSet(reference);
  if (!set.ok()) return base::Corruption(fmt::format("'{}': {}", metadata_path, set.status().message()));
  simdjson::dom::array features;
  if (!meta["features"].get_array().get(features)) {
    std::vector<std::string> listed;
    for (simdjson::dom::element f : features) {
      std::string_view name;
      listed.emplace_back(f.get_string().get(name) ? "" : name);
    }
    if (listed != set->feature_names()) {
      return base::Corruption(fmt::format("'{}': the reference's features [{}] differ from \"features\" [{}]",
                                          metadata_path, fmt::join(set->feature_names(), ","),
                                          fmt::join(listed, ",")));
    }
  }
  return set;
}

base::Result<ReferenceSet> LoadVersionReference(const models::Registry& registry,
                                                const std::string& version) {
  return LoadReference(registry.MetadataPath(version));
}

}  // namespace vigil::monitor
