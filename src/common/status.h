#pragma once
// One error type across meshd. A Status carries the kind of failure as the API defines it; adapters
// (HTTP, gRPC, DNS) map the kind to their wire form, and nothing else does.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace meshd {

enum class ErrorKind {
  kOk,
  kBadRequest,       // malformed or invalid input
  kNotFound,         // a named resource does not exist
  kConflict,         // already exists, or an idempotency token reused for another request
  kResourceInUse,    // still referenced or not empty
  kLimitExceeded,    // a quota would be exceeded
  kTooManyTags,      // a resource would carry more tags than allowed
  kTooManyRequests,  // throttled
  kForbidden,
  kServiceUnavailable,
  kInternal,         // a bug or an environment failure (disk, database)
};

class Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // A more specific wire type than the kind gives (Cloud Map's "NamespaceNotFound", say).
  const std::string& type() const { return type_; }
  Status& withType(std::string type) {
    type_ = std::move(type);
    return *this;
  }

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
  std::string type_;
};

inline Status okStatus() { return {}; }
inline Status badRequest(std::string m) { return {ErrorKind::kBadRequest, std::move(m)}; }
inline Status notFound(std::string m) { return {ErrorKind::kNotFound, std::move(m)}; }
inline Status conflict(std::string m) { return {ErrorKind::kConflict, std::move(m)}; }
inline Status resourceInUse(std::string m) { return {ErrorKind::kResourceInUse, std::move(m)}; }
inline Status limitExceeded(std::string m) { return {ErrorKind::kLimitExceeded, std::move(m)}; }
inline Status internalError(std::string m) { return {ErrorKind::kInternal, std::move(m)}; }

// A value or the Status saying why there is none.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}
  StatusOr(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace meshd

// Returns early with the status of `expr` when it is not ok.
#define MESHD_RETURN_IF_ERROR(expr)       \
  do {                                    \
    ::meshd::Status _st = (expr);         \
    if (!_st.ok()) return _st;            \
  } while (0)
