#pragma once
// For tests: a SQLite store in a fresh private directory, removed again with the object.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "store/store.h"

namespace meshd::store::testing {

class TempStore {
 public:
  TempStore() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("meshd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    reopen();
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  // Closes and opens the store again on the same directory, as a restart would.
  void reopen() {
    store_.reset();
    auto s = openSqliteStore(dir_.string());
    if (!s.ok()) ADD_FAILURE() << s.status().message();
    else store_ = std::move(*s);
  }

  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace meshd::store::testing
