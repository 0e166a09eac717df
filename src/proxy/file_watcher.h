#pragma once
// Envoy's Filesystem::Watcher for MovedTo, with inotify: calls back when a file is moved onto a
// watched path (how a runtime disk layer's symlink is swapped: `ln -s new tmp && mv -T tmp root`).
// Main thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace meshd::proxy {

class FileWatcher {
 public:
  explicit FileWatcher(boost::asio::io_context& io);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Calls `moved` each time something is moved onto `path` (its directory is watched).
  Status onMovedTo(const std::string& path, std::function<void()> moved);

 private:
  void read();

  struct Watch {
    std::string name;  // the file in the watched directory
    std::function<void()> moved;
  };
  boost::asio::posix::stream_descriptor inotify_;
  std::map<int, std::vector<Watch>> watches_;  // by watch descriptor (one per directory)
  alignas(8) std::array<char, 4096> buffer_{};  // inotify_events, which hold ints
};

}  // namespace meshd::proxy
