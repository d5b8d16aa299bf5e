#pragma once
// Located access to yaml-cpp nodes: every failure becomes "file:line:col: message". Internal to config/.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "config/pipeline_config.h"
#include "config/reference.h"

namespace vigil::config {

//! Reads one YAML document with located errors. Not thread-safe; one per load.
class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  //! Location of a node in the file.
  Location Loc(const YAML::Node& node) const;
  //! Checks `node` is a map whose keys are all keys of `section` in the reference (reference.h): a
  //! typo, or a key the reference does not document, is an error that names the closest allowed key.
  //! `what` names the mapping in errors ("a window operator").
  base::Status ExpectMap(const YAML::Node& node, std::string_view what, Section section) const;
  //! Checks `node` is a sequence.
  base::Status ExpectSeq(const YAML::Node& node, std::string_view what) const;

  //! A required child; error names the key and the parent's location.
  base::Result<YAML::Node> Required(const YAML::Node& parent, std::string_view key) const;
  //! A required child that must be a scalar (a name, a type): a list or a mapping there is an error.
  base::Result<YAML::Node> RequiredScalar(const YAML::Node& parent, std::string_view key) const;

  base::Status Read(const YAML::Node& node, std::string_view key, std::string* out) const;
  base::Status Read(const YAML::Node& node, std::string_view key, int* out) const;
  base::Status Read(const YAML::Node& node, std::string_view key, int64_t* out) const;
  base::Status Read(const YAML::Node& node, std::string_view key, std::size_t* out) const;
  base::Status Read(const YAML::Node& node, std::string_view key, double* out) const;
  base::Status Read(const YAML::Node& node, std::string_view key, bool* out) const;
  //! Reads a duration ("7d", "250ms") into milliseconds.
  base::Status ReadDuration(const YAML::Node& node, std::string_view key, int64_t* out) const;
  //! Reads a map of scalars into strings.
  base::Status Read(const YAML::Node& node, std::string_view key,
                    std::map<std::string, std::string>* out) const;

  //! A located error at `node`.
  base::Status Error(const YAML::Node& node, std::string_view message) const;

 private:
  template <typename T>
  base::Status ReadScalar(const YAML::Node& node, std::string_view key, T* out,
                          std::string_view expected) const;

  std::string file_;
};

}  // namespace vigil::config
