#pragma once
// Bounds-checked reading and compressing writing of DNS wire format (RFC 1035 §4.1). Pure values, no
// I/O; private to the dns library (message.cc builds on them).
//
// The reader never reads outside its span. Names it follows through compression pointers are bounded
// twice over: each pointer must point strictly before the segment it was found in (so pointers can
// neither loop nor point forward), and a name stops at 255 bytes.

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace meshd::dns {

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> data) : data_(data) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

  Status u8(uint8_t* out);
  Status u16(uint16_t* out);
  Status u32(uint32_t* out);
  // Copies the next `n` bytes.
  Status bytes(size_t n, std::vector<uint8_t>* out);
  Status skip(size_t n);
  // Reads a possibly compressed name into text form (name.h), original case kept.
  Status name(std::string* out);

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Writes into a buffer that never grows past `limit`. A write that does not fit is dropped and marks
// the writer full; the caller rolls back to a mark taken at a record boundary, which also forgets the
// compression targets written after it, so no pointer can refer to discarded bytes.
class WireWriter {
 public:
  explicit WireWriter(size_t limit) : limit_(limit) {}

  struct Mark {
    size_t size = 0;
    size_t names = 0;
  };

  void u8(uint8_t v);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void bytes(std::span<const uint8_t> b);
  // Writes a name given as raw labels; with `compress`, reuses an earlier suffix through a pointer.
  // Suffixes are matched case-insensitively.
  void name(const std::vector<std::string>& labels, bool compress);
  // Overwrites two bytes already written (a length or count known only later).
  void patchU16(size_t offset, uint16_t v);

  // Moves the limit (the OPT record may use room kept back from the sections before it).
  void setLimit(size_t limit) { limit_ = limit; }
  bool full() const { return full_; }
  size_t size() const { return buf_.size(); }
  Mark mark() const { return {buf_.size(), names_.size()}; }
  void rollback(Mark m);
  std::vector<uint8_t> take() { return std::move(buf_); }

 private:
  bool reserve(size_t n);

  size_t limit_;
  bool full_ = false;
  std::vector<uint8_t> buf_;
  // Every name suffix written so far (lowercased wire form) and its offset, plus insertion order so a
  // rollback can forget the newer ones.
  std::unordered_map<std::string, uint16_t> offsets_;
  std::vector<std::string> names_;
};

}  // namespace meshd::dns
