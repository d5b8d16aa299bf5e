// The default instance id (connectors/factory.h): unique per host and state directory, stable for both.
#include <catch2/catch.hpp>

#include "connectors/factory.h"

namespace vigil::connectors {
namespace {

TEST_CASE("default instance id: hostname plus a hash of the state directory, stable and distinct",
          "[connectors]") {
  const std::string a = DefaultInstanceId("pod-a", "/var/lib/vigil/state");
  CHECK(a == DefaultInstanceId("pod-a", "/var/lib/vigil/state"));  // same inputs, same id (a restart)
  CHECK(a.rfind("pod-a-", 0) == 0);
  CHECK(a.size() == std::string("pod-a-").size() + 8);
  CHECK(a.find_first_not_of("0123456789abcdef", 6) == std::string::npos);
  // Two pods that mount the same path, and two state directories on one host, do not collide.
  CHECK(a != DefaultInstanceId("pod-b", "/var/lib/vigil/state"));
  CHECK(a != DefaultInstanceId("pod-a", "/var/lib/vigil/state2"));
  // The hash is FNV-1a, not std::hash: the same on every build (a known value pins it).
  CHECK(DefaultInstanceId("h", "") == "h-811c9dc5");
  // Characters a group instance id cannot hold are replaced; no hostname still gives an id.
  CHECK(DefaultInstanceId("a b/c", "/s").rfind("a_b_c-", 0) == 0);
  CHECK(DefaultInstanceId("", "/s").rfind("host-", 0) == 0);
}

TEST_CASE("transactional id: <group>.<instance id>, the explicit one first", "[connectors]") {
  config::PipelineSpec spec;
  spec.source.group = "vigil-p";
  spec.runtime.state_dir = "/tmp/vigil/state";
  spec.runtime.instance_id = "node-2";
  CHECK(TransactionalId(spec) == "vigil-p.node-2");
  spec.runtime.instance_id.clear();
  const std::string derived = TransactionalId(spec);
  CHECK(derived.rfind("vigil-p.", 0) == 0);
  CHECK(derived.ends_with(DefaultInstanceId("", "/tmp/vigil/state").substr(5)));  // the path's hash
}

}  // namespace
}  // namespace vigil::connectors
