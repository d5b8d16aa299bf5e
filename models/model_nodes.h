#pragma once
// Internal to models/: two read-only views over a parsed document, one for JSON (simdjson DOM) and
// one for UBJSON (models/ubjson.h), with the same small interface. The XGBoost model extractor is a
// template over them, so both encodings are read by the same code. Not part of the public API.

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <simdjson.h>
#include <string_view>
#include <type_traits>
#include <vector>

#include "models/ubjson.h"

namespace vigil::models {

//! Converts one parsed number to T, refusing values T cannot hold exactly (integers) or at all.
template <typename T>
bool ConvertNumber(int64_t v, T* out) {
  if constexpr (std::is_floating_point_v<T>) {
    *out = static_cast<T>(v);
    return true;
  } else {
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min())) return false;
    if constexpr (sizeof(T) >= sizeof(int64_t) && std::is_unsigned_v<T>) {
      *out = static_cast<T>(v);
      return true;
    } else {
      if (v > static_cast<int64_t>(std::numeric_limits<T>::max())) return false;
      *out = static_cast<T>(v);
      return true;
    }
  }
}

template <typename T>
bool ConvertNumber(double v, T* out) {
  if constexpr (std::is_floating_point_v<T>) {
    *out = static_cast<T>(v);
    return true;
  } else {
    if (!(v >= -9.2e18 && v <= 9.2e18) || std::trunc(v) != v) return false;
    return ConvertNumber(static_cast<int64_t>(v), out);
  }
}

//! A view of a simdjson DOM element. Valid while the parser that produced it lives.
class JsonNode {
 public:
  explicit JsonNode(simdjson::dom::element e) : e_(e) {}

  std::optional<JsonNode> Find(std::string_view key) const {
    simdjson::dom::object obj;
    simdjson::dom::element value;
    if (e_.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
    if (obj.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
    return JsonNode(value);
  }
  bool IsNull() const { return e_.is_null(); }
  bool GetString(std::string_view* out) const { return e_.get_string().get(*out) == simdjson::SUCCESS; }
  bool GetInt(int64_t* out) const {
    if (e_.is_int64()) return e_.get_int64().get(*out) == simdjson::SUCCESS;
    double d = 0;
    return e_.is_double() && e_.get_double().get(d) == simdjson::SUCCESS && ConvertNumber(d, out);
  }
  bool GetDouble(double* out) const { return e_.is_number() && e_.get_double().get(*out) == simdjson::SUCCESS; }
  bool GetElements(std::vector<JsonNode>* out) const {
    simdjson::dom::array arr;
    if (e_.get_array().get(arr) != simdjson::SUCCESS) return false;
    out->clear();
    out->reserve(arr.size());
    for (simdjson::dom::element item : arr) out->emplace_back(item);
    return true;
  }
  //! An array of numbers (booleans count as 0/1) converted to T; false on any other content.
  template <typename T>
  bool GetNumbers(std::vector<T>* out) const {
    simdjson::dom::array arr;
    if (e_.get_array().get(arr) != simdjson::SUCCESS) return false;
    out->clear();
    out->reserve(arr.size());
    for (simdjson::dom::element item : arr) {
      T value{};
      int64_t i = 0;
      uint64_t u = 0;
      double d = 0;
      bool b = false;
      bool ok = false;
      if (item.get_int64().get(i) == simdjson::SUCCESS) {
        ok = ConvertNumber(i, &value);
      } else if (item.get_uint64().get(u) == simdjson::SUCCESS) {
        ok = ConvertNumber(static_cast<double>(u), &value);
      } else if (item.get_double().get(d) == simdjson::SUCCESS) {
        ok = ConvertNumber(d, &value);
      } else if (item.get_bool().get(b) == simdjson::SUCCESS) {
        ok = ConvertNumber(static_cast<int64_t>(b), &value);
      }
      if (!ok) return false;
      out->push_back(value);
    }
    return true;
  }

 private:
  simdjson::dom::element e_;
};

//! A view of a parsed UBJSON value. Valid while the UbjValue tree (and its input bytes) live.
class UbjNode {
 public:
  explicit UbjNode(const UbjValue* v) : v_(v) {}

  std::optional<UbjNode> Find(std::string_view key) const {
    const UbjValue* found = v_->Find(key);
    if (found == nullptr) return std::nullopt;
    return UbjNode(found);
  }
  bool IsNull() const { return v_->kind == UbjKind::kNull; }
  bool GetString(std::string_view* out) const {
    if (v_->kind != UbjKind::kString) return false;
    *out = v_->str;
    return true;
  }
  bool GetInt(int64_t* out) const {
    if (v_->kind == UbjKind::kInt) {
      *out = v_->integer;
      return true;
    }
    return v_->kind == UbjKind::kFloat && ConvertNumber(v_->real, out);
  }
  bool GetDouble(double* out) const {
    if (v_->kind == UbjKind::kFloat) *out = v_->real;
    if (v_->kind == UbjKind::kInt) *out = static_cast<double>(v_->integer);
    return v_->kind == UbjKind::kFloat || v_->kind == UbjKind::kInt;
  }
  bool GetElements(std::vector<UbjNode>* out) const {
    out->clear();
    // An empty typed array is still an empty array.
    if (v_->kind == UbjKind::kTypedArray && v_->count == 0) return true;
    if (v_->kind != UbjKind::kArray) return false;
    out->reserve(v_->items.size());
    for (const UbjValue& item : v_->items) out->emplace_back(&item);
    return true;
  }
  template <typename T>
  bool GetNumbers(std::vector<T>* out) const {
    out->clear();
    if (v_->kind == UbjKind::kTypedArray) {
      out->reserve(v_->count);
      const bool integer = v_->TypedIsInteger();
      for (size_t i = 0; i < v_->count; ++i) {
        T value{};
        bool ok = integer ? ConvertNumber(v_->TypedIntAt(i), &value) : ConvertNumber(v_->TypedAt(i), &value);
        if (!ok) return false;
        out->push_back(value);
      }
      return true;
    }
    if (v_->kind != UbjKind::kArray) return false;
    out->reserve(v_->items.size());
    for (const UbjValue& item : v_->items) {
      T value{};
      bool ok = false;
      if (item.kind == UbjKind::kInt) ok = ConvertNumber(item.integer, &value);
      if (item.kind == UbjKind::kFloat) ok = ConvertNumber(item.real, &value);
      if (item.kind == UbjKind::kBool) ok = ConvertNumber(static_cast<int64_t>(item.boolean), &value);
      if (!ok) return false;
      out->push_back(value);
    }
    return true;
  }

 private:
  const UbjValue* v_;
};

}  // namespace vigil::models
