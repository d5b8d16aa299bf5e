#include "base/status.h"

#include <catch2/catch.hpp>

namespace vigil::base {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  VIGIL_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST_CASE("Status carries code and message", "[base]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.ToString() == "OK");
  Status bad = Corruption("checksum");
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == StatusCode::kCorruption);
  CHECK(bad.ToString() == "Corruption: checksum");
  CHECK(bad.WithContext("model v3").message() == "model v3: checksum");
  Status copy = bad;
  CHECK(copy.message() == "checksum");
}

TEST_CASE("Result propagates errors through VIGIL_ASSIGN_OR_RETURN", "[base]") {
  CHECK(*Quarter(8) == 2);
  auto r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "odd: 3");
}

}  // namespace
}  // namespace vigil::base
