#pragma once
// Operators are made by name. Each operator library exposes a Register…() function that the
// application calls once at start-up; there are no static initialisers.

#include <map>
#include <string>
#include <vector>

#include "engine/operator.h"

namespace vigil::engine {

//! Name → factory. Filled at start-up, read-only afterwards (then safe to share between threads).
class OperatorRegistry {
 public:
  //! Adds a factory; a second registration of a name fails.
  base::Status Register(std::string type, OperatorFactory factory);
  //! The factory for `type`, or nullptr.
  const OperatorFactory* Find(const std::string& type) const;
  //! Registered names, sorted.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, OperatorFactory> factories_;
};

}  // namespace vigil::engine
