#pragma once
// Status and Result<T>: errors as values. Expected failures (a malformed event, a missing file, a
// refused model) are returned, never thrown. Exceptions are reserved for fatal start-up errors.

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vigil::base {

//! What kind of failure a Status carries.
enum class StatusCode {
  kOk,
  kInvalidArgument,     //!< The caller passed something malformed (config, event, model file).
  kNotFound,            //!< A named thing (file, field, model version) does not exist.
  kAlreadyExists,       //!< A thing to be created exists already.
  kFailedPrecondition,  //!< The system is not in a state that allows the call.
  kCorruption,          //!< Stored data failed a check (checksum, golden rows, truncated file).
  kIoError,             //!< The file system or RocksDB failed.
  kUnavailable,         //!< A remote service (Kafka) could not be reached; retrying may help.
  kAborted,             //!< The operation was stopped (shutdown, an aborted transaction).
  kFenced,              //!< Another process took over this one's identity (its transactional id or
                        //!< group instance id); retrying cannot help.
  kInternal,            //!< A bug: an invariant did not hold.
};

//! Name of a code, e.g. "InvalidArgument".
std::string_view StatusCodeName(StatusCode code);

//! The outcome of an operation. An OK status is one null pointer: cheap to return on hot paths.
//! Thread-safety: a Status is a value; distinct objects may be used from distinct threads.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  //! The message; empty for OK.
  const std::string& message() const;
  //! "InvalidArgument: message", or "OK".
  std::string ToString() const;
  //! A copy whose message is `context + ": " + message()`; OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

//! A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

inline Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg) {
  return {StatusCode::kFailedPrecondition, std::move(msg)};
}
inline Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
inline Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
inline Status Fenced(std::string msg) { return {StatusCode::kFenced, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

}  // namespace vigil::base

#define VIGIL_CONCAT_INNER_(a, b) a##b
#define VIGIL_CONCAT_(a, b) VIGIL_CONCAT_INNER_(a, b)

//! Returns the Status of `expr` from the enclosing function if it is not OK.
#define VIGIL_RETURN_IF_ERROR(expr)           \
  do {                                        \
    ::vigil::base::Status _vigil_st = (expr); \
    if (!_vigil_st.ok()) return _vigil_st;    \
  } while (false)

//! Evaluates a Result<T>; on error returns its Status, otherwise moves the value into `lhs`.
#define VIGIL_ASSIGN_OR_RETURN(lhs, expr) \
  VIGIL_ASSIGN_OR_RETURN_IMPL_(VIGIL_CONCAT_(_vigil_r, __LINE__), lhs, expr)
#define VIGIL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
