#include "dns/wire.h"

#include "dns/name.h"

namespace meshd::dns {
namespace {

Status truncated(size_t at) { return badRequest("message truncated at offset " + std::to_string(at)); }

char lower(uint8_t c) { return static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c); }

}  // namespace

Status WireReader::u8(uint8_t* out) {
  if (remaining() < 1) return truncated(pos_);
  *out = data_[pos_++];
  return okStatus();
}

Status WireReader::u16(uint16_t* out) {
  if (remaining() < 2) return truncated(pos_);
  *out = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
  pos_ += 2;
  return okStatus();
}

Status WireReader::u32(uint32_t* out) {
  if (remaining() < 4) return truncated(pos_);
  *out = static_cast<uint32_t>(data_[pos_]) << 24 | static_cast<uint32_t>(data_[pos_ + 1]) << 16 |
         static_cast<uint32_t>(data_[pos_ + 2]) << 8 | data_[pos_ + 3];
  pos_ += 4;
  return okStatus();
}

Status WireReader::bytes(size_t n, std::vector<uint8_t>* out) {
  if (remaining() < n) return truncated(pos_);
  out->assign(data_.begin() + pos_, data_.begin() + pos_ + n);
  pos_ += n;
  return okStatus();
}

Status WireReader::skip(size_t n) {
  if (remaining() < n) return truncated(pos_);
  pos_ += n;
  return okStatus();
}

Status WireReader::name(std::string* out) {
  out->clear();
  size_t pos = pos_;
  size_t segmentStart = pos_;  // pointers must land strictly before this
  bool jumped = false;
  size_t wireLength = 1;  // the terminating zero
  while (true) {
    if (pos >= data_.size()) return truncated(pos);
    uint8_t len = data_[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= data_.size()) return truncated(pos);
      size_t target = static_cast<size_t>(len & 0x3F) << 8 | data_[pos + 1];
      if (target >= segmentStart) {
        return badRequest("compression pointer at offset " + std::to_string(pos) + " does not point backwards");
      }
      if (!jumped) pos_ = pos + 2;
      jumped = true;
      pos = segmentStart = target;
      continue;
    }
    if (len & 0xC0) return badRequest("unsupported label type at offset " + std::to_string(pos));
    if (len == 0) {
      if (!jumped) pos_ = pos + 1;
      return okStatus();
    }
    if (pos + 1 + len > data_.size()) return truncated(pos);
    wireLength += 1 + len;
    if (wireLength > kMaxNameLength) return badRequest("name longer than 255 bytes at offset " + std::to_string(pos));
    appendLabel(*out, std::string_view(reinterpret_cast<const char*>(&data_[pos + 1]), len));
    pos += 1 + len;
  }
}

bool WireWriter::reserve(size_t n) {
  if (full_ || buf_.size() + n > limit_) {
    full_ = true;
    return false;
  }
  return true;
}

void WireWriter::u8(uint8_t v) {
  if (reserve(1)) buf_.push_back(v);
}

void WireWriter::u16(uint16_t v) {
  if (!reserve(2)) return;
  buf_.push_back(static_cast<uint8_t>(v >> 8));
  buf_.push_back(static_cast<uint8_t>(v));
}

void WireWriter::u32(uint32_t v) {
  if (!reserve(4)) return;
  for (int shift = 24; shift >= 0; shift -= 8) buf_.push_back(static_cast<uint8_t>(v >> shift));
}

void WireWriter::bytes(std::span<const uint8_t> b) {
  if (reserve(b.size())) buf_.insert(buf_.end(), b.begin(), b.end());
}

void WireWriter::name(const std::vector<std::string>& labels, bool compress) {
  // keys[i]: the lowercased wire form of the suffix starting at label i.
  std::vector<std::string> keys(labels.size());
  std::string suffix;
  for (size_t i = labels.size(); i-- > 0;) {
    std::string key(1, static_cast<char>(labels[i].size()));
    for (char c : labels[i]) key += lower(static_cast<uint8_t>(c));
    suffix = key + suffix;
    keys[i] = suffix;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (compress) {
      auto it = offsets_.find(keys[i]);
      if (it != offsets_.end()) {
        u16(static_cast<uint16_t>(0xC000 | it->second));
        return;
      }
    }
    size_t at = buf_.size();
    if (!reserve(1 + labels[i].size())) return;
    buf_.push_back(static_cast<uint8_t>(labels[i].size()));
    buf_.insert(buf_.end(), labels[i].begin(), labels[i].end());
    // Only offsets a 14-bit pointer can reach are worth remembering.
    if (at < 0x4000 && offsets_.emplace(keys[i], static_cast<uint16_t>(at)).second) names_.push_back(keys[i]);
  }
  u8(0);
}

void WireWriter::patchU16(size_t offset, uint16_t v) {
  if (offset + 2 > buf_.size()) return;
  buf_[offset] = static_cast<uint8_t>(v >> 8);
  buf_[offset + 1] = static_cast<uint8_t>(v);
}

void WireWriter::rollback(Mark m) {
  if (m.size < buf_.size()) buf_.resize(m.size);
  while (names_.size() > m.names) {
    offsets_.erase(names_.back());
    names_.pop_back();
  }
  full_ = false;
}

}  // namespace meshd::dns
