#include "models/ubjson.h"

#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace vigil::models {
namespace {

using base::Result;
using base::Status;

//! Size in bytes of a fixed-width scalar marker, or 0 if the marker is not one.
size_t ScalarSize(char marker) {
  switch (marker) {
    case 'i':
    case 'U':
    case 'C':
      return 1;
    case 'I':
      return 2;
    case 'l':
    case 'd':
      return 4;
    case 'L':
    case 'D':
      return 8;
    default:
      return 0;
  }
}

bool IsNumericMarker(char marker) { return marker != 'C' && ScalarSize(marker) != 0; }

template <typename T>
T LoadBigEndian(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::little) {
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
  }
  return v;
}

//! Decodes one numeric scalar of type `marker` at `p` (which holds ScalarSize(marker) bytes).
void DecodeNumber(char marker, const char* p, int64_t* as_int, double* as_real) {
  switch (marker) {
    case 'i':
      *as_int = static_cast<int8_t>(*p);
      break;
    case 'U':
      *as_int = static_cast<uint8_t>(*p);
      break;
    case 'I':
      *as_int = static_cast<int16_t>(LoadBigEndian<uint16_t>(p));
      break;
    case 'l':
      *as_int = static_cast<int32_t>(LoadBigEndian<uint32_t>(p));
      break;
    case 'L':
      *as_int = static_cast<int64_t>(LoadBigEndian<uint64_t>(p));
      break;
    case 'd':
      *as_real = std::bit_cast<float>(LoadBigEndian<uint32_t>(p));
      break;
    case 'D':
      *as_real = std::bit_cast<double>(LoadBigEndian<uint64_t>(p));
      break;
    default:
      break;
  }
}

//! Recursive-descent parser over a byte range. Every read is bounds-checked.
class Parser {
 public:
  explicit Parser(std::string_view bytes) : bytes_(bytes) {}

  Result<UbjValue> ParseDocument() {
    UbjValue root;
    char marker = 0;
    VIGIL_RETURN_IF_ERROR(NextMarker(&marker));
    VIGIL_RETURN_IF_ERROR(ParseValue(marker, 0, &root));
    while (pos_ < bytes_.size() && bytes_[pos_] == 'N') ++pos_;
    if (pos_ != bytes_.size()) return Error("trailing bytes after the document");
    return root;
  }

 private:
  Status Error(std::string_view what) const {
    return base::Corruption("UBJSON: " + std::string(what) + " at byte " + std::to_string(pos_));
  }

  Status Need(size_t n) const {
    if (bytes_.size() - pos_ < n) return Error("unexpected end of input");
    return Status::OK();
  }

  //! Reads the next marker byte, skipping no-op markers.
  Status NextMarker(char* marker) {
    do {
      VIGIL_RETURN_IF_ERROR(Need(1));
      *marker = bytes_[pos_++];
    } while (*marker == 'N');
    return Status::OK();
  }

  //! Reads an integer of type `marker` (used for lengths and counts); must be non-negative.
  Status ReadLength(char marker, size_t* out) {
    if (!IsNumericMarker(marker) || marker == 'd' || marker == 'D') {
      return Error(std::string("expected an integer length marker, got '") + Printable(marker) + "'");
    }
    size_t size = ScalarSize(marker);
    VIGIL_RETURN_IF_ERROR(Need(size));
    int64_t v = 0;
    double unused = 0;
    DecodeNumber(marker, bytes_.data() + pos_, &v, &unused);
    if (v < 0) return Error("negative length");
    pos_ += size;
    *out = static_cast<size_t>(v);
    return Status::OK();
  }

  Status ReadSizedBytes(std::string_view* out) {
    char marker = 0;
    VIGIL_RETURN_IF_ERROR(NextMarker(&marker));
    size_t len = 0;
    VIGIL_RETURN_IF_ERROR(ReadLength(marker, &len));
    VIGIL_RETURN_IF_ERROR(Need(len));
    *out = bytes_.substr(pos_, len);
    pos_ += len;
    return Status::OK();
  }

  static std::string Printable(char c) {
    if (c >= 0x20 && c < 0x7f) return std::string(1, c);
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
    return buf;
  }

  //! Parses the value introduced by `marker` (already consumed) into `out`.
  Status ParseValue(char marker, int depth, UbjValue* out) {
    switch (marker) {
      case 'Z':
        out->kind = UbjKind::kNull;
        return Status::OK();
      case 'T':
      case 'F':
        out->kind = UbjKind::kBool;
        out->boolean = marker == 'T';
        return Status::OK();
      case 'S':
        out->kind = UbjKind::kString;
        return ReadSizedBytes(&out->str);
      case 'H': {
        std::string_view text;
        VIGIL_RETURN_IF_ERROR(ReadSizedBytes(&text));
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out->real);
        if (ec != std::errc() || ptr != text.data() + text.size()) return Error("bad high-precision number");
        out->kind = UbjKind::kFloat;
        return Status::OK();
      }
      case '[':
      case '{':
        if (depth >= kUbjMaxDepth) return Error("nesting too deep");
        return ParseContainer(marker == '{', depth + 1, out);
      default:
        break;
    }
    size_t size = ScalarSize(marker);
    if (size == 0) return Error("unknown marker '" + Printable(marker) + "'");
    VIGIL_RETURN_IF_ERROR(Need(size));
    if (marker == 'C') {
      out->kind = UbjKind::kString;
      out->str = bytes_.substr(pos_, 1);
    } else {
      DecodeNumber(marker, bytes_.data() + pos_, &out->integer, &out->real);
      out->kind = (marker == 'd' || marker == 'D') ? UbjKind::kFloat : UbjKind::kInt;
    }
    pos_ += size;
    return Status::OK();
  }

  //! Parses an array or object after its opening marker: optional `$type`, optional `#count`.
  Status ParseContainer(bool is_object, int depth, UbjValue* out) {
    out->kind = is_object ? UbjKind::kObject : UbjKind::kArray;
    char elem_type = 0;
    bool counted = false;
    size_t count = 0;
    VIGIL_RETURN_IF_ERROR(Need(1));
    if (bytes_[pos_] == '$') {
      ++pos_;
      VIGIL_RETURN_IF_ERROR(Need(1));
      elem_type = bytes_[pos_++];
      VIGIL_RETURN_IF_ERROR(Need(1));
      if (bytes_[pos_] != '#') return Error("typed container without a count");
    }
    if (bytes_[pos_] == '#') {
      ++pos_;
      char count_marker = 0;
      VIGIL_RETURN_IF_ERROR(NextMarker(&count_marker));
      VIGIL_RETURN_IF_ERROR(ReadLength(count_marker, &count));
      counted = true;
    }
    if (!is_object && elem_type != 0 && IsNumericMarker(elem_type)) {
      size_t size = ScalarSize(elem_type);
      if (count > (bytes_.size() - pos_) / size) return Error("typed array longer than the input");
      out->kind = UbjKind::kTypedArray;
      out->elem_type = elem_type;
      out->count = count;
      out->str = bytes_.substr(pos_, count * size);
      pos_ += count * size;
      return Status::OK();
    }
    // Every element takes at least one byte (zero for typed null/bool elements, which we refuse
    // to count beyond the input so that a tiny input cannot ask for a huge vector).
    if (counted && count > bytes_.size() - pos_) return Error("container count larger than the input");
    if (counted) out->items.reserve(std::min<size_t>(count, 4096));
    for (size_t i = 0; !counted || i < count; ++i) {
      if (!counted) {
        char peek = 0;
        do {
          VIGIL_RETURN_IF_ERROR(Need(1));
          peek = bytes_[pos_];
          if (peek == 'N') ++pos_;
        } while (peek == 'N');
        if (peek == (is_object ? '}' : ']')) {
          ++pos_;
          break;
        }
      }
      if (is_object) {
        std::string_view key;
        VIGIL_RETURN_IF_ERROR(ReadKey(&key));
        out->keys.push_back(key);
      }
      char marker = elem_type;
      if (marker == 0) VIGIL_RETURN_IF_ERROR(NextMarker(&marker));
      out->items.emplace_back();
      VIGIL_RETURN_IF_ERROR(ParseValue(marker, depth, &out->items.back()));
    }
    return Status::OK();
  }

  //! Object keys are strings without the 'S' marker: an integer length then the bytes.
  Status ReadKey(std::string_view* key) { return ReadSizedBytes(key); }

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace

const UbjValue* UbjValue::Find(std::string_view key) const {
  if (kind != UbjKind::kObject) return nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

double UbjValue::TypedAt(size_t i) const {
  size_t size = ScalarSize(elem_type);
  int64_t as_int = 0;
  double as_real = 0;
  DecodeNumber(elem_type, str.data() + i * size, &as_int, &as_real);
  return TypedIsInteger() ? static_cast<double>(as_int) : as_real;
}

int64_t UbjValue::TypedIntAt(size_t i) const {
  size_t size = ScalarSize(elem_type);
  int64_t as_int = 0;
  double as_real = 0;
  DecodeNumber(elem_type, str.data() + i * size, &as_int, &as_real);
  return as_int;
}

Result<UbjValue> ParseUbjson(std::string_view bytes) { return Parser(bytes).ParseDocument(); }

}  // namespace vigil::models
