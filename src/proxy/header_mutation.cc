#include "proxy/header_mutation.h"

#include <algorithm>

namespace meshd::proxy {

using envoy::config::core::v3::HeaderValueOption;

void mutateRequestHeaders(RequestHead& head, const google::protobuf::RepeatedPtrField<HeaderValueOption>& add,
                          const google::protobuf::RepeatedPtrField<std::string>& remove) {
  for (const std::string& name : remove) head.erase(name);
  for (const HeaderValueOption& o : add) {
    std::string name = o.header().key();
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return head_parse::lower(c); });
    const std::string& value = o.header().value();
    if (value.empty() && !o.keep_empty_value()) continue;  // Envoy drops an empty value by default
    auto action = o.append_action();
    if (o.has_append()) {  // the deprecated flag, when set, decides
      action = o.append().value() ? HeaderValueOption::APPEND_IF_EXISTS_OR_ADD
                                  : HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD;
    }
    bool present = head.find(name).has_value();
    switch (action) {
      case HeaderValueOption::ADD_IF_ABSENT:
        if (!present) head.add(name, value);
        break;
      case HeaderValueOption::OVERWRITE_IF_EXISTS:
        if (present) head.set(name, value);
        break;
      case HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD: head.set(name, value); break;
      default: head.add(name, value); break;  // APPEND_IF_EXISTS_OR_ADD: another field of that name
    }
  }
}

}  // namespace meshd::proxy
