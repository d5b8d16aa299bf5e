#include <catch2/catch.hpp>

#include <string>

#include "models/ubjson.h"

namespace vigil::models {
namespace {

using namespace std::string_literals;

TEST_CASE("UBJSON scalars, strings and plain containers", "[models][ubjson]") {
  // {"a": [i5, U200, I-2, T, Z, S"xy", C'q', d1.5], "b": {}} with a no-op between members.
  const std::string doc = "{i\x01" "a[i\x05U\xc8I\xff\xfeTZSi\x02xyCqd\x3f\xc0\x00\x00]N"
                          "i\x01" "b{}}"s;
  auto value = ParseUbjson(doc);
  INFO(value.status().ToString());
  REQUIRE(value.ok());
  REQUIRE(value->kind == UbjKind::kObject);
  const UbjValue* a = value->Find("a");
  REQUIRE(a != nullptr);
  REQUIRE(a->kind == UbjKind::kArray);
  REQUIRE(a->size() == 8);
  CHECK(a->items[0].integer == 5);
  CHECK(a->items[1].integer == 200);
  CHECK(a->items[2].integer == -2);
  CHECK(a->items[3].boolean);
  CHECK(a->items[4].kind == UbjKind::kNull);
  CHECK(a->items[5].str == "xy");
  CHECK(a->items[6].str == "q");
  CHECK(a->items[7].real == 1.5);
  REQUIRE(value->Find("b") != nullptr);
  CHECK(value->Find("b")->kind == UbjKind::kObject);
  CHECK(value->Find("missing") == nullptr);
}

TEST_CASE("UBJSON optimized containers", "[models][ubjson]") {
  SECTION("typed float32 array as XGBoost writes it") {
    const std::string doc = "[$d#L\x00\x00\x00\x00\x00\x00\x00\x02\x3f\x80\x00\x00\xc0\x00\x00\x00"s;
    auto value = ParseUbjson(doc);
    REQUIRE(value.ok());
    REQUIRE(value->kind == UbjKind::kTypedArray);
    REQUIRE(value->count == 2);
    CHECK(value->TypedAt(0) == 1.0);
    CHECK(value->TypedAt(1) == -2.0);
  }
  SECTION("typed int32 and uint8 arrays") {
    const std::string doc = "{i\x01l[$l#i\x02\xff\xff\xff\xff\x00\x00\x01\x00i\x01u[$U#U\x03\x00\x01\x02}"s;
    auto value = ParseUbjson(doc);
    REQUIRE(value.ok());
    const UbjValue* l = value->Find("l");
    REQUIRE(l != nullptr);
    CHECK(l->TypedIntAt(0) == -1);
    CHECK(l->TypedIntAt(1) == 256);
    CHECK(value->Find("u")->TypedIntAt(2) == 2);
  }
  SECTION("counted array without a type, and a typed object") {
    const std::string doc = "[#i\x02SU\x01xi\x07"s;
    auto value = ParseUbjson(doc);
    REQUIRE(value.ok());
    REQUIRE(value->items.size() == 2);
    CHECK(value->items[1].integer == 7);
    const std::string typed_object = "{$i#i\x02" "i\x01" "a\x01" "i\x01" "b\x02"s;  // must outlive the views
    auto obj = ParseUbjson(typed_object);
    REQUIRE(obj.ok());
    REQUIRE(obj->Find("b") != nullptr);
    CHECK(obj->Find("b")->integer == 2);
  }
}

TEST_CASE("UBJSON rejects malformed input with an offset", "[models][ubjson]") {
  struct Bad {
    std::string bytes;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {"", "unexpected end of input"},
      {"[i\x01", "unexpected end of input"},
      {"{i\x05" "ab", "unexpected end of input"},
      {"X", "unknown marker 'X'"},
      {"Si\xff" "abc", "negative length"},
      {"Sd\x00\x00\x00\x00", "expected an integer length marker"},
      {"[$d#L\x00\x00\x00\x00\x10\x00\x00\x00\x00"s, "typed array longer than the input"},
      {"[#l\x7f\x00\x00\x00i\x01"s, "container count larger than the input"},
      {"[$d]", "typed container without a count"},
      {"i\x01i\x02", "trailing bytes"},
      {std::string(200, '['), "nesting too deep"},
  };
  for (const Bad& bad : cases) {
    INFO("input of " << bad.bytes.size() << " bytes, expecting: " << bad.message);
    auto value = ParseUbjson(bad.bytes);
    REQUIRE_FALSE(value.ok());
    CHECK(value.status().code() == base::StatusCode::kCorruption);
    CHECK_THAT(value.status().message(), Catch::Contains(bad.message) && Catch::Contains("at byte"));
  }
}

}  // namespace
}  // namespace vigil::models
