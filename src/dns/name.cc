#include "dns/name.h"

namespace meshd::dns {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A '.' at `i` separates labels unless an odd run of backslashes escapes it ("\\." is an escaped
// backslash followed by a separator). \DDD escapes end in digits, so they never count here.
bool isSeparator(std::string_view text, size_t i) {
  if (text[i] != '.') return false;
  size_t backslashes = 0;
  while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
  return backslashes % 2 == 0;
}

std::string_view stripTrailingDot(std::string_view text) {
  if (!text.empty() && isSeparator(text, text.size() - 1)) text.remove_suffix(1);
  return text;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

StatusOr<std::vector<std::string>> toLabels(std::string_view text) {
  std::vector<std::string> labels;
  if (text.empty() || text == ".") return labels;
  text = stripTrailingDot(text);
  size_t wireLength = 1;  // the root's zero byte
  std::string label;
  auto finish = [&]() -> Status {
    if (label.empty()) return badRequest("empty label in name '" + std::string(text) + "'");
    if (label.size() > kMaxLabelLength) return badRequest("label longer than 63 bytes in '" + std::string(text) + "'");
    wireLength += 1 + label.size();
    if (wireLength > kMaxNameLength) return badRequest("name longer than 255 bytes: '" + std::string(text) + "'");
    labels.push_back(std::move(label));
    label.clear();
    return okStatus();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      MESHD_RETURN_IF_ERROR(finish());
    } else if (c == '\\') {
      if (i + 1 >= text.size()) return badRequest("dangling escape in name '" + std::string(text) + "'");
      if (isDigit(text[i + 1])) {
        if (i + 3 >= text.size() || !isDigit(text[i + 2]) || !isDigit(text[i + 3])) {
          return badRequest("bad \\DDD escape in name '" + std::string(text) + "'");
        }
        int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (v > 255) return badRequest("bad \\DDD escape in name '" + std::string(text) + "'");
        label += static_cast<char>(v);
        i += 3;
      } else {
        label += text[++i];
      }
    } else {
      label += c;
    }
  }
  MESHD_RETURN_IF_ERROR(finish());
  return labels;
}

void appendLabel(std::string& text, std::string_view rawLabel) {
  if (!text.empty()) text += '.';
  for (char c : rawLabel) {
    auto b = static_cast<unsigned char>(c);
    if (c == '.' || c == '\\') {
      text += '\\';
      text += c;
    } else if (b < 0x21 || b > 0x7e) {
      text += '\\';
      text += static_cast<char>('0' + b / 100);
      text += static_cast<char>('0' + b / 10 % 10);
      text += static_cast<char>('0' + b % 10);
    } else {
      text += c;
    }
  }
}

StatusOr<std::string> canonicalName(std::string_view text) {
  if (text.find('\\') != std::string_view::npos) {
    return badRequest("escapes are not allowed in zone names: '" + std::string(text) + "'");
  }
  auto labels = toLabels(text);
  if (!labels.ok()) return labels.status();
  std::string out;
  for (const std::string& label : *labels) {
    for (char c : label) {
      auto b = static_cast<unsigned char>(c);
      if (b < 0x21 || b > 0x7e) return badRequest("unprintable byte in zone name '" + std::string(text) + "'");
    }
    appendLabel(out, label);
  }
  return normalizeName(out);
}

std::string normalizeName(std::string_view text) {
  text = stripTrailingDot(text);
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool isAtOrBelow(std::string_view name, std::string_view apex) {
  if (apex.empty() || name == apex) return true;
  if (name.size() <= apex.size() || !name.ends_with(apex)) return false;
  return isSeparator(name, name.size() - apex.size() - 1);
}

std::string_view parentName(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    if (isSeparator(name, i)) return name.substr(i + 1);
  }
  return {};
}

}  // namespace meshd::dns
