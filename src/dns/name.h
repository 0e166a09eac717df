#pragma once
// Domain names in the text form the module passes around: labels joined by '.', no trailing dot, the
// root as "". A byte text cannot show plainly ('.', '\\', anything outside printable ASCII) is escaped
// as \DDD (RFC 1035 §5.1), so every name read off the wire survives the trip through text.
// Names compare ASCII case-insensitively (RFC 4343); `lowercase` gives the canonical form used as key.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meshd::dns {

constexpr size_t kMaxLabelLength = 63;
constexpr size_t kMaxNameLength = 255;  // on the wire: length bytes and the root's zero included

// Decodes text into raw labels (escapes resolved), checking the RFC 1035 limits. One trailing dot is
// accepted; empty labels are not.
StatusOr<std::vector<std::string>> toLabels(std::string_view text);

// Appends one raw label to text form, escaping what needs it.
void appendLabel(std::string& text, std::string_view rawLabel);

// A name for the zone data: one trailing dot stripped, lowercased, limits checked, and only labels of
// printable ASCII without '.' or '\\', so stored names never carry escapes.
StatusOr<std::string> canonicalName(std::string_view text);

// ASCII lowercase, and one trailing unescaped dot removed.
std::string normalizeName(std::string_view text);

// True when `name` is `apex` or a name below it. Both in the canonical (lowercase) form; `name` may
// carry escapes, `apex` may not.
bool isAtOrBelow(std::string_view name, std::string_view apex);

// The name with its first label removed; "" for a single label or the root.
std::string_view parentName(std::string_view name);

}  // namespace meshd::dns
