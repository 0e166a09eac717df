#include "proxy/file_watcher.h"

#include <sys/inotify.h>

#include <cerrno>
#include <cstring>

namespace meshd::proxy {

FileWatcher::FileWatcher(boost::asio::io_context& io) : inotify_(io) {}

FileWatcher::~FileWatcher() {
  boost::system::error_code ignored;
  inotify_.close(ignored);
}

Status FileWatcher::onMovedTo(const std::string& path, std::function<void()> moved) {
  if (!inotify_.is_open()) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return internalError(std::string("inotify_init1: ") + std::strerror(errno));
    inotify_.assign(fd);
    read();
  }
  // As Envoy's watcher: the path's directory is watched, and events are matched by file name.
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  int wd = ::inotify_add_watch(inotify_.native_handle(), dir.c_str(), IN_MOVED_TO);
  if (wd < 0) return badRequest("cannot watch " + dir + ": " + std::strerror(errno));
  watches_[wd].push_back({name, std::move(moved)});
  return okStatus();
}

void FileWatcher::read() {
  inotify_.async_read_some(boost::asio::buffer(buffer_), [this](boost::system::error_code ec, size_t n) {
    if (ec) return;  // closed
    for (size_t at = 0; at + sizeof(inotify_event) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buffer_.data() + at);
      std::string name = e->len ? std::string(e->name, ::strnlen(e->name, e->len)) : std::string();
      if (auto it = watches_.find(e->wd); it != watches_.end() && (e->mask & IN_MOVED_TO)) {
        for (const auto& w : it->second) {
          if (w.name == name) w.moved();
        }
      }
      at += sizeof(inotify_event) + e->len;
    }
    read();
  });
}

}  // namespace meshd::proxy
