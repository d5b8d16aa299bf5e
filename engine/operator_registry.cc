#include "engine/operator_registry.h"

namespace vigil::engine {

base::Status OperatorRegistry::Register(std::string type, OperatorFactory factory) {
  auto [it, inserted] = factories_.emplace(type, std::move(factory));
  if (!inserted) return base::Status(base::StatusCode::kAlreadyExists, "operator '" + type + "' registered twice");
  return base::Status::OK();
}

const OperatorFactory* OperatorRegistry::Find(const std::string& type) const {
  auto it = factories_.find(type);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> OperatorRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, f] : factories_) names.push_back(name);
  return names;
}

}  // namespace vigil::engine
