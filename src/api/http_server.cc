#include "api/http_server.h"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <cctype>

namespace meshd::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr size_t kMaxBody = 4 << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(60);

// One connection: read a request, answer it, repeat while keep-alive holds.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpHandler& handler)
      : stream_(std::move(socket)), handler_(handler) {}

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      return write({413, {{"content-type", "application/json"}}, R"({"message":"request too large"})"}, false);
    }
    if (ec) {  // end of stream, timeout, reset or an unparsable request: close quietly
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    auto req = parser_->release();
    HttpRequest in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      in.headers[name] = std::string(f.value());
    }
    in.body = std::move(req.body());
    HttpResponse out;
    try {
      out = handler_(in);
    } catch (const std::exception& e) {
      spdlog::error("msg=\"handler failed\" error=\"{}\"", e.what());
      out = {500, {{"content-type", "application/json"}}, R"({"message":"internal error"})"};
    }
    write(out, req.keep_alive());
  }

  void write(const HttpResponse& r, bool keepAlive) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(11);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->body() = r.body;
    res->keep_alive(keepAlive);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res, keepAlive](beast::error_code ec, size_t) {
      if (ec) return;
      if (keepAlive) {
        self->read();
      } else {
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      }
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpHandler& handler_;
};

}  // namespace

HttpServer::HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

StatusOr<tcp::endpoint> HttpServer::listen(const std::string& host, uint16_t port, std::optional<bool> v6only) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  if (ec) return badRequest("invalid listen address '" + host + "'");
  tcp::endpoint ep(addr, port);
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec && addr.is_v6() && v6only) acceptor->set_option(boost::asio::ip::v6_only(*v6only), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return internalError("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  acceptor_ = std::move(acceptor);
  return acceptor_->local_endpoint();
}

void HttpServer::start(int threads) {
  accept();
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
}

void HttpServer::stop() {
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void HttpServer::accept() {
  acceptor_->async_accept(boost::asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<Session>(std::move(socket), handler_)->run();
    if (acceptor_->is_open()) accept();
  });
}

StatusOr<std::pair<std::string, uint16_t>> parseHostPort(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return badRequest("expected host:port, got '" + s + "'");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return badRequest("invalid port in '" + s + "'");
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoi(port)));
}

}  // namespace meshd::api
