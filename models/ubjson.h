#pragma once
// A small reader for Universal Binary JSON (draft 12), the binary format XGBoost ≥ 1.6 writes for
// `.ubj` models. It parses a whole document into a light tree of values; optimized numeric arrays
// (`[$d#...`) are not expanded but kept as a view of their big-endian bytes, so a large model costs
// little more memory than its file.
//
// Safety: the reader never trusts a length, count or depth from the input. Truncated or malformed
// bytes give a Corruption status naming the byte offset; it never reads out of bounds and never
// allocates more than a small multiple of the input size.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::models {

//! The kind of a parsed UBJSON value.
enum class UbjKind { kNull, kBool, kInt, kFloat, kString, kArray, kObject, kTypedArray };

//! One parsed UBJSON value. Views (`str`, `keys`) point into the input bytes, which must outlive it.
struct UbjValue {
  UbjKind kind = UbjKind::kNull;  //!< What this value is.
  bool boolean = false;           //!< kBool: the value.
  int64_t integer = 0;            //!< kInt: the value (uint8 and int8..int64 markers).
  double real = 0.0;              //!< kFloat: the value (float32 and float64 markers).
  std::string_view str;           //!< kString: the bytes; kTypedArray: the raw big-endian elements.
  char elem_type = 0;             //!< kTypedArray: the element marker ('i','U','I','l','L','d','D').
  size_t count = 0;               //!< kTypedArray: the number of elements.
  std::vector<UbjValue> items;    //!< kArray: the elements; kObject: the member values.
  std::vector<std::string_view> keys;  //!< kObject: the member names, parallel to `items`.

  //! The member named `key` of an object, or nullptr (also when this is not an object).
  const UbjValue* Find(std::string_view key) const;
  //! Number of elements of an array or typed array; 0 otherwise.
  size_t size() const { return kind == UbjKind::kTypedArray ? count : items.size(); }
  //! Element `i` of a typed array as a double (i < count). The element marker must be numeric.
  double TypedAt(size_t i) const;
  //! Element `i` of a typed array as an int64 if its marker is an integer type.
  int64_t TypedIntAt(size_t i) const;
  //! True when a typed array holds integers (as opposed to floats).
  bool TypedIsInteger() const { return elem_type != 'd' && elem_type != 'D'; }
};

//! Limits that keep a hostile input from exhausting the stack.
inline constexpr int kUbjMaxDepth = 128;

//! Parses one UBJSON document that spans all of `bytes` (trailing no-op 'N' bytes allowed).
//! Returns Corruption with the byte offset on truncated or malformed input.
base::Result<UbjValue> ParseUbjson(std::string_view bytes);

}  // namespace vigil::models
