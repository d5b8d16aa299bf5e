#include "tests/support/instance_group.h"

#include <algorithm>
#include <regex>

#include "tests/support/kafka_env.h"

namespace vigil::testing {
namespace {

void Launch(const std::string& dir, Instance& in) {
  in.child =
      std::make_unique<Child>(std::vector<std::string>{VigilBinary(), "run", dir + "/pipeline.yaml",
                                                       "--instance-id", in.id, "--state-dir", in.state_dir},
                              in.log);
}

}  // namespace

Instance StartInstance(const std::string& dir, const std::string& prefix, int k) {
  Instance in;
  in.id = prefix + "-" + std::to_string(k);
  in.state_dir = dir + "/state-" + std::to_string(k);
  in.log = dir + "/run-" + std::to_string(k) + ".log";
  Launch(dir, in);
  return in;
}

void RestartInstance(const std::string& dir, Instance& in) {
  in.child.reset();
  Launch(dir, in);
}

Ownership Owned(const std::string& text) {
  static const std::regex re("([A-Za-z0-9_.]+): partition ([0-9]+) (assigned|revoked)");
  Ownership owned;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    const int p = std::stoi((*it)[2]);
    if ((*it)[3] == "assigned") {
      owned[(*it)[1]].insert(p);
    } else {
      owned[(*it)[1]].erase(p);
    }
  }
  return owned;
}

bool Settled(const std::vector<Instance>& instances, const std::vector<std::string>& stages, int partitions) {
  for (const std::string& stage : stages) {
    std::set<int> all;
    for (const Instance& in : instances) {
      const std::set<int> owned = Owned(ReadFile(in.log))[stage];
      if (owned.size() != static_cast<size_t>(partitions) / instances.size()) return false;
      all.insert(owned.begin(), owned.end());
    }
    if (all.size() != static_cast<size_t>(partitions)) return false;
  }
  return true;
}

std::string Logs(const std::vector<Instance>& instances, size_t max_chars) {
  std::string all;
  for (const Instance& in : instances) {
    const std::string text = ReadFile(in.log);
    all += "---- " + in.log + "\n" +
           (text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars));
  }
  return all;
}

int64_t CommittedTotal(const std::string& group, const std::string& topic, int partitions) {
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) total += std::max<int64_t>(0, CommittedOffset(group, topic, p));
  return total;
}

}  // namespace vigil::testing
