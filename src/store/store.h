#pragma once
// The store: a revisioned key-value space with ordered change history, the contract etcd offers.
//
// Every committed transaction gets the next revision; all of its changes share it. Readers see
// committed state only. `events(from)` returns changes after `from` in revision order, which is how
// consumers (the xDS translator) follow the store without missing or reordering anything.
// Implementations are safe to call from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace meshd::store {

using Revision = int64_t;

struct KeyValue {
  std::string key;
  std::string value;
  Revision createRevision = 0;
  Revision modRevision = 0;
  int64_t version = 0;  // number of puts since creation
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  Revision revision = 0;
  KeyValue kv;  // after the change; for a delete, the key and the last value it had
};

// A condition of a transaction, checked against committed state.
struct Compare {
  std::string key;
  Revision modRevision = 0;  // 0: the key must be absent
};

struct Op {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  std::string key;
  std::string value;
};

// All-or-nothing: when every compare holds, every op is applied under one new revision.
struct Txn {
  std::vector<Compare> compares;
  std::vector<Op> ops;
};

struct TxnResult {
  bool succeeded = false;
  Revision revision = 0;  // the new revision if succeeded, the current one otherwise
};

class Store {
 public:
  virtual ~Store() = default;

  virtual StatusOr<std::optional<KeyValue>> get(const std::string& key) = 0;
  // Keys starting with `prefix` and greater than `after`, in key order, at most `limit` of them.
  virtual StatusOr<std::vector<KeyValue>> list(const std::string& prefix, const std::string& after,
                                               size_t limit) = 0;
  virtual StatusOr<size_t> count(const std::string& prefix) = 0;
  virtual StatusOr<TxnResult> commit(const Txn& txn) = 0;
  virtual Revision revision() = 0;
  // Changes with revision > `from`, oldest first, at most `limit` of them.
  virtual StatusOr<std::vector<Event>> events(Revision from, size_t limit) = 0;
  // Blocks until the store's revision exceeds `from` or the timeout passes; returns the revision.
  virtual Revision waitForRevision(Revision from, std::chrono::milliseconds timeout) = 0;
};

// Opens (creating if needed) the embedded SQLite store in `dir`.
StatusOr<std::unique_ptr<Store>> openSqliteStore(const std::string& dir);

// Every key under `prefix`, in key order, read page by page.
StatusOr<std::vector<KeyValue>> listAll(Store& store, const std::string& prefix);

// Returns the smallest key greater than every key with this prefix ("" if none exists).
std::string prefixEnd(const std::string& prefix);

}  // namespace meshd::store
