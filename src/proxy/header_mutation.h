#pragma once
// A route's request_headers_to_add / request_headers_to_remove, as Envoy's header parser applies
// them to the upstream request: the removals, then each addition by its append_action (or the
// deprecated `append`). Values are taken as they are: Envoy's %COMMAND% substitutions are not
// evaluated (meshd writes none). Pure.

#include <envoy/config/core/v3/base.pb.h>
#include <google/protobuf/repeated_field.h>

#include <string>

#include "proxy/request_head.h"

namespace meshd::proxy {

void mutateRequestHeaders(RequestHead& head,
                          const google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>& add,
                          const google::protobuf::RepeatedPtrField<std::string>& remove);

// Envoy's order, most_specific_header_mutations_wins being false (its default, and meshd's): the
// route's, then its virtual host's, then the route configuration's, so the widest has the last word.
template <typename Route, typename VirtualHost, typename RouteConfiguration>
void mutateRequestHeaders(RequestHead& head, const Route& r, const VirtualHost& vh, const RouteConfiguration& rc) {
  if (r.request_headers_to_add_size() || r.request_headers_to_remove_size()) {
    mutateRequestHeaders(head, r.request_headers_to_add(), r.request_headers_to_remove());
  }
  if (vh.request_headers_to_add_size() || vh.request_headers_to_remove_size()) {
    mutateRequestHeaders(head, vh.request_headers_to_add(), vh.request_headers_to_remove());
  }
  if (rc.request_headers_to_add_size() || rc.request_headers_to_remove_size()) {
    mutateRequestHeaders(head, rc.request_headers_to_add(), rc.request_headers_to_remove());
  }
}

}  // namespace meshd::proxy
