#include "lifecycle/monitor_export.h"

#include <spdlog/spdlog.h>

namespace vigil::lifecycle {

int ExportMonitor(operators::ScoreMonitor& monitor, const models::Registry& registry, int64_t wall_ms) {
  int written = 0;
  for (const models::DriftSignal& signal : monitor.Export(wall_ms)) {
    spdlog::warn("model {}: drift: {}", signal.version, signal.reason);
    if (base::Status st = registry.WriteDriftSignal(signal); !st.ok()) {
      spdlog::warn("drift signal not written: {}", st.message());
      continue;
    }
    ++written;
  }
  return written;
}

}  // namespace vigil::lifecycle
