#include "config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace vigil::config {

Location YamlReader::Loc(const YAML::Node& node) const {
  const YAML::Mark mark = node.Mark();
  return Location{file_, mark.line + 1, mark.column + 1};
}

base::Status YamlReader::Error(const YAML::Node& node, std::string_view message) const {
  return ConfigError(Loc(node), message);
}

namespace {

//! Edit distance (insertions, deletions, substitutions) between `a` and `b`, case-insensitive.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      const size_t next = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

//! The allowed key closest to `key`, if it is close enough to be a typo of it: at most a third of
//! its letters (and at least one) differ. Empty otherwise.
std::string_view ClosestKey(std::string_view key, const std::vector<KeyDoc>& allowed) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(1, key.size() / 3) + 1;
  for (const KeyDoc& a : allowed) {
    const size_t d = EditDistance(key, a.key);
    if (d < best_distance) {
      best = a.key;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace

base::Status YamlReader::ExpectMap(const YAML::Node& node, std::string_view what, Section section) const {
  if (!node.IsMap()) return Error(node, "expected a mapping for " + std::string(what));
  const std::vector<KeyDoc>& allowed = SectionOf(section).keys;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (std::any_of(allowed.begin(), allowed.end(), [&](const KeyDoc& a) { return a.key == key; })) continue;
    std::string list;
    for (const KeyDoc& a : allowed) list += (list.empty() ? "" : ", ") + a.key;
    const std::string_view closest = ClosestKey(key, allowed);
    return Error(kv.first, "unknown key '" + key + "' in " + std::string(what) + "; " +
                               (closest.empty() ? "" : "did you mean '" + std::string(closest) + "'? ") +
                               "expected one of: " + list);
  }
  return base::Status::OK();
}

base::Status YamlReader::ExpectSeq(const YAML::Node& node, std::string_view what) const {
  if (!node.IsSequence()) return Error(node, "expected a list for " + std::string(what));
  return base::Status::OK();
}

base::Result<YAML::Node> YamlReader::Required(const YAML::Node& parent, std::string_view key) const {
  YAML::Node child = parent[std::string(key)];
  if (!child) return Error(parent, "missing required key '" + std::string(key) + "'");
  return child;
}

base::Result<YAML::Node> YamlReader::RequiredScalar(const YAML::Node& parent, std::string_view key) const {
  VIGIL_ASSIGN_OR_RETURN(YAML::Node child, Required(parent, key));
  if (!child.IsScalar()) return Error(child, "'" + std::string(key) + "': expected a string");
  return child;
}

template <typename T>
base::Status YamlReader::ReadScalar(const YAML::Node& node, std::string_view key, T* out,
                                    std::string_view expected) const {
  YAML::Node child = node[std::string(key)];
  if (!child) return base::Status::OK();  // optional: keep the default
  if (!child.IsScalar()) return Error(child, "'" + std::string(key) + "': expected " + std::string(expected));
  try {
    *out = child.as<T>();
  } catch (const YAML::Exception&) {
    return Error(child, "'" + std::string(key) + "': expected " + std::string(expected) + ", got '" +
                            child.Scalar() + "'");
  }
  return base::Status::OK();
}

base::Status YamlReader::Read(const YAML::Node& n, std::string_view k, std::string* out) const {
  return ReadScalar(n, k, out, "a string");
}
base::Status YamlReader::Read(const YAML::Node& n, std::string_view k, int* out) const {
  return ReadScalar(n, k, out, "an integer");
}
base::Status YamlReader::Read(const YAML::Node& n, std::string_view k, int64_t* out) const {
  return ReadScalar(n, k, out, "an integer");
}
base::Status YamlReader::Read(const YAML::Node& n, std::string_view k, std::size_t* out) const {
  return ReadScalar(n, k, out, "a non-negative integer");
}
base::Status YamlReader::Read(const YAML::Node& n, std::string_view k, double* out) const {
  return ReadScalar(n, k, out, "a number");
}
base::Status YamlReader::Read(const YAML::Node& n, std::string_view k, bool* out) const {
  return ReadScalar(n, k, out, "true or false");
}

base::Status YamlReader::ReadDuration(const YAML::Node& node, std::string_view key, int64_t* out) const {
  YAML::Node child = node[std::string(key)];
  if (!child) return base::Status::OK();
  if (!child.IsScalar())
    return Error(child, "'" + std::string(key) + "': expected a duration like 7d or 250ms");
  auto ms = ParseDurationMs(child.Scalar());
  if (!ms.ok()) return Error(child, "'" + std::string(key) + "': " + ms.status().message());
  *out = *ms;
  return base::Status::OK();
}

base::Status YamlReader::Read(const YAML::Node& node, std::string_view key,
                              std::map<std::string, std::string>* out) const {
  YAML::Node child = node[std::string(key)];
  if (!child) return base::Status::OK();
  if (!child.IsMap()) return Error(child, "'" + std::string(key) + "': expected a mapping of name: value");
  for (const auto& kv : child) {
    if (!kv.second.IsScalar()) return Error(kv.second, "expected a scalar value");
    (*out)[kv.first.as<std::string>()] = kv.second.Scalar();
  }
  return base::Status::OK();
}

}  // namespace vigil::config
