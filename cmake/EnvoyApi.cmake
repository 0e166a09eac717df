# Envoy's v3 API as C++: the protos come from the npm package @grpc/grpc-js-xds, pinned by
# proto/package.json and proto/package-lock.json and fetched into the build tree at configure time.
# Only the protos reachable from ENVOY_API_ROOTS are compiled, into one static library, envoy_api.

set(ENVOY_API_ROOTS
  envoy/service/discovery/v3/ads.proto
  envoy/config/listener/v3/listener.proto
  envoy/config/route/v3/route.proto
  envoy/config/cluster/v3/cluster.proto
  envoy/config/endpoint/v3/endpoint.proto
  envoy/config/bootstrap/v3/bootstrap.proto
  envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto
  envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
  envoy/extensions/filters/http/router/v3/router.proto
  envoy/extensions/access_loggers/file/v3/file.proto
  envoy/extensions/filters/listener/original_dst/v3/original_dst.proto
  envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto
  envoy/extensions/upstreams/http/v3/http_protocol_options.proto
  envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto
  envoy/admin/v3/config_dump.proto)
set(ENVOY_API_GRPC_PROTOS envoy/service/discovery/v3/ads.proto)

find_program(NPM npm REQUIRED)
find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_package(Protobuf REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)

set(ENVOY_NPM_DIR ${CMAKE_BINARY_DIR}/envoy-api/npm)
set(ENVOY_PROTO_DIR ${CMAKE_BINARY_DIR}/envoy-api/protos)
set(ENVOY_GEN_DIR ${CMAKE_BINARY_DIR}/envoy-api/gen)
set(LOCK ${PROJECT_SOURCE_DIR}/proto/package-lock.json)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${LOCK} ${PROJECT_SOURCE_DIR}/proto/package.json)

# Fetch and stage once per lock file.
file(SHA256 ${LOCK} LOCK_HASH)
set(STAMP ${CMAKE_BINARY_DIR}/envoy-api/staged-${LOCK_HASH})
if(NOT EXISTS ${STAMP})
  message(STATUS "Envoy API: fetching @grpc/grpc-js-xds (npm ci)")
  file(MAKE_DIRECTORY ${ENVOY_NPM_DIR})
  file(COPY ${PROJECT_SOURCE_DIR}/proto/package.json ${LOCK} DESTINATION ${ENVOY_NPM_DIR})
  execute_process(COMMAND ${NPM} ci --ignore-scripts --no-audit --no-fund --loglevel=error
                  WORKING_DIRECTORY ${ENVOY_NPM_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "Envoy API: npm ci failed (${rc})")
  endif()
  execute_process(COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/envoy_protos.py stage
                          ${ENVOY_NPM_DIR}/node_modules ${ENVOY_PROTO_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "Envoy API: staging the protos failed (${rc})")
  endif()
  file(GLOB OLD_STAMPS ${CMAKE_BINARY_DIR}/envoy-api/staged-*)
  if(OLD_STAMPS)
    file(REMOVE ${OLD_STAMPS})
  endif()
  file(TOUCH ${STAMP})
endif()

execute_process(COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/envoy_protos.py closure
                        ${ENVOY_PROTO_DIR} ${ENVOY_API_ROOTS}
                OUTPUT_VARIABLE CLOSURE RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "Envoy API: cannot compute the proto closure")
endif()
string(REPLACE "\n" ";" ENVOY_API_PROTOS "${CLOSURE}")
list(LENGTH ENVOY_API_PROTOS n)
message(STATUS "Envoy API: compiling ${n} protos")

set(ENVOY_API_SOURCES)
foreach(p ${ENVOY_API_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  list(APPEND ENVOY_API_SOURCES ${ENVOY_GEN_DIR}/${base}.pb.cc)
  list(APPEND ENVOY_API_HEADERS ${ENVOY_GEN_DIR}/${base}.pb.h)
endforeach()
foreach(p ${ENVOY_API_GRPC_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  list(APPEND ENVOY_API_SOURCES ${ENVOY_GEN_DIR}/${base}.grpc.pb.cc)
  list(APPEND ENVOY_API_HEADERS ${ENVOY_GEN_DIR}/${base}.grpc.pb.h)
endforeach()

add_custom_command(
  OUTPUT ${ENVOY_API_SOURCES} ${ENVOY_API_HEADERS}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${ENVOY_GEN_DIR}
  COMMAND ${PROTOC} -I ${ENVOY_PROTO_DIR} -I ${Protobuf_INCLUDE_DIRS} --cpp_out=${ENVOY_GEN_DIR} ${ENVOY_API_PROTOS}
  COMMAND ${PROTOC} -I ${ENVOY_PROTO_DIR} -I ${Protobuf_INCLUDE_DIRS} --grpc_out=${ENVOY_GEN_DIR}
          --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN} ${ENVOY_API_GRPC_PROTOS}
  WORKING_DIRECTORY ${ENVOY_PROTO_DIR}
  DEPENDS ${STAMP}
  COMMENT "Generating C++ for ${n} Envoy API protos")

add_library(envoy_api STATIC ${ENVOY_API_SOURCES})
# Generated code: not ours to lint.
target_compile_options(envoy_api PRIVATE -w)
target_include_directories(envoy_api SYSTEM PUBLIC ${ENVOY_GEN_DIR})
target_link_libraries(envoy_api PUBLIC protobuf::libprotobuf PkgConfig::GRPCPP)
