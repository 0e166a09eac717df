// The embedded store: SQLite in WAL mode with synchronous=FULL, so a commit that returned is on disk.
//
// Tables: `kv` holds current state; `events` holds every change by (revision, index), which is
// what watchers read. One connection, serialized by a mutex: SQLite allows one writer anyway, and
// the API's request rate is far below what a single connection sustains.

#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "store/store.h"

namespace meshd::store {
namespace {

// A prepared statement that resets itself on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v3(db, sql, -1, 0, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool valid() const { return stmt_ != nullptr; }
  void bind(int i, const std::string& s) {
    sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : "";
  }
  int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kSchema = R"sql(
  CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY, value BLOB NOT NULL,
    create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS events (
    rev INTEGER NOT NULL, idx INTEGER NOT NULL, type INTEGER NOT NULL, key BLOB NOT NULL,
    value BLOB NOT NULL, create_rev INTEGER NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (rev, idx)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT OR IGNORE INTO meta VALUES ('revision', 0);
)sql";

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  Status init() {
    MESHD_RETURN_IF_ERROR(exec("PRAGMA journal_mode=WAL"));
    MESHD_RETURN_IF_ERROR(exec("PRAGMA synchronous=FULL"));
    MESHD_RETURN_IF_ERROR(exec(kSchema));
    Stmt s(db_, "SELECT value FROM meta WHERE name='revision'");
    if (s.step() != SQLITE_ROW) return internalError("store: cannot read revision");
    revision_ = s.integer(0);
    return okStatus();
  }

  // Store
  StatusOr<std::optional<KeyValue>> get(const std::string& key) override {
    std::lock_guard lock(mu_);
    return getLocked(key);
  }

  StatusOr<std::vector<KeyValue>> list(const std::string& prefix, const std::string& after,
                                       size_t limit) override {
    std::lock_guard lock(mu_);
    std::string end = prefixEnd(prefix);
    Stmt s(db_,
           end.empty() ? "SELECT key, value, create_rev, mod_rev, version FROM kv "
                         "WHERE key >= ?1 AND key > ?2 ORDER BY key LIMIT ?4"
                       : "SELECT key, value, create_rev, mod_rev, version FROM kv "
                         "WHERE key >= ?1 AND key > ?2 AND key < ?3 ORDER BY key LIMIT ?4");
    s.bind(1, prefix);
    s.bind(2, after);
    if (!end.empty()) s.bind(3, end);
    s.bind(4, static_cast<int64_t>(limit));
    std::vector<KeyValue> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(row(s));
    if (rc != SQLITE_DONE) return error("list");
    return out;
  }

  StatusOr<size_t> count(const std::string& prefix) override {
    std::lock_guard lock(mu_);
    std::string end = prefixEnd(prefix);
    Stmt s(db_, end.empty() ? "SELECT count(*) FROM kv WHERE key >= ?1"
                            : "SELECT count(*) FROM kv WHERE key >= ?1 AND key < ?2");
    s.bind(1, prefix);
    if (!end.empty()) s.bind(2, end);
    if (s.step() != SQLITE_ROW) return error("count");
    return static_cast<size_t>(s.integer(0));
  }

  StatusOr<TxnResult> commit(const Txn& txn) override {
    std::unique_lock lock(mu_);
    for (const Compare& c : txn.compares) {
      auto kv = getLocked(c.key);
      if (!kv.ok()) return kv.status();
      Revision actual = kv->has_value() ? (*kv)->modRevision : 0;
      if (actual != c.modRevision) return TxnResult{false, revision_};
    }
    if (txn.ops.empty()) return TxnResult{true, revision_};

    Revision rev = revision_ + 1;
    MESHD_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
    Status st = applyLocked(txn, rev);
    if (!st.ok()) {
      exec("ROLLBACK");
      return st;
    }
    st = exec("COMMIT");
    if (!st.ok()) {
      exec("ROLLBACK");
      return st;
    }
    revision_ = rev;
    lock.unlock();
    changed_.notify_all();
    return TxnResult{true, rev};
  }

  Revision revision() override {
    std::lock_guard lock(mu_);
    return revision_;
  }

  StatusOr<std::vector<Event>> events(Revision from, size_t limit) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "SELECT rev, type, key, value, create_rev, version FROM events "
           "WHERE rev > ?1 ORDER BY rev, idx LIMIT ?2");
    s.bind(1, from);
    s.bind(2, static_cast<int64_t>(limit));
    std::vector<Event> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      Event e;
      e.revision = s.integer(0);
      e.type = s.integer(1) == 0 ? Event::Type::kPut : Event::Type::kDelete;
      e.kv = {s.text(2), s.text(3), s.integer(4), e.revision, s.integer(5)};
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return error("events");
    return out;
  }

  Revision waitForRevision(Revision from, std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return revision_ > from; });
    return revision_;
  }

 private:
  Status applyLocked(const Txn& txn, Revision rev) {
    int64_t idx = 0;
    for (const Op& op : txn.ops) {
      auto existing = getLocked(op.key);
      if (!existing.ok()) return existing.status();
      const std::optional<KeyValue>& old = *existing;
      if (op.type == Op::Type::kDelete) {
        if (!old) continue;  // deleting nothing is not a change
        Stmt del(db_, "DELETE FROM kv WHERE key = ?1");
        del.bind(1, op.key);
        if (del.step() != SQLITE_DONE) return error("delete");
        MESHD_RETURN_IF_ERROR(logEvent(rev, idx++, 1, op.key, old->value, old->createRevision, 0));
        continue;
      }
      Revision created = old ? old->createRevision : rev;
      int64_t version = old ? old->version + 1 : 1;
      Stmt put(db_, "INSERT OR REPLACE INTO kv VALUES (?1, ?2, ?3, ?4, ?5)");
      put.bind(1, op.key);
      put.bind(2, op.value);
      put.bind(3, created);
      put.bind(4, rev);
      put.bind(5, version);
      if (put.step() != SQLITE_DONE) return error("put");
      MESHD_RETURN_IF_ERROR(logEvent(rev, idx++, 0, op.key, op.value, created, version));
    }
    Stmt meta(db_, "UPDATE meta SET value = ?1 WHERE name = 'revision'");
    meta.bind(1, rev);
    if (meta.step() != SQLITE_DONE) return error("revision");
    return okStatus();
  }

  Status logEvent(Revision rev, int64_t idx, int64_t type, const std::string& key,
                  const std::string& value, Revision created, int64_t version) {
    Stmt s(db_, "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    s.bind(1, rev);
    s.bind(2, idx);
    s.bind(3, type);
    s.bind(4, key);
    s.bind(5, value);
    s.bind(6, created);
    s.bind(7, version);
    return s.step() == SQLITE_DONE ? okStatus() : error("event");
  }

  StatusOr<std::optional<KeyValue>> getLocked(const std::string& key) {
    Stmt s(db_, "SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key = ?1");
    s.bind(1, key);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<KeyValue>{};
    if (rc != SQLITE_ROW) return error("get");
    return std::optional<KeyValue>{row(s)};
  }

  static KeyValue row(Stmt& s) {
    return {s.text(0), s.text(1), s.integer(2), s.integer(3), s.integer(4)};
  }

  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return okStatus();
    std::string m = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return internalError("store: " + m);
  }

  Status error(const char* what) {
    return internalError(std::string("store: ") + what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
  std::mutex mu_;
  std::condition_variable changed_;
  Revision revision_ = 0;  // guarded by mu_
};

}  // namespace

StatusOr<std::vector<KeyValue>> listAll(Store& store, const std::string& prefix) {
  constexpr size_t kPage = 1000;
  std::vector<KeyValue> all;
  std::string after;
  while (true) {
    auto page = store.list(prefix, after, kPage);
    if (!page.ok()) return page.status();
    all.insert(all.end(), page->begin(), page->end());
    if (page->size() < kPage) return all;
    after = page->back().key;
  }
}

std::string prefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

StatusOr<std::unique_ptr<Store>> openSqliteStore(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return internalError("store: cannot create " + dir + ": " + ec.message());
  std::string path = (std::filesystem::path(dir) / "meshd.db").string();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return internalError("store: cannot open " + path + ": " + m);
  }
  sqlite3_busy_timeout(db, 5000);
  auto store = std::make_unique<SqliteStore>(db);
  MESHD_RETURN_IF_ERROR(store->init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace meshd::store
