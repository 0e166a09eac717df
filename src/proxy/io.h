#pragma once
// The I/O types of the request path, with the executor named rather than erased. Asio's defaults
// (awaitable<T>, tcp::socket, use_awaitable) carry an any_io_executor: every completion then copies,
// counts work through and destroys a type-erased executor, a measurable share of a proxied request's
// CPU. A worker's coroutines, sockets and timers all run on its own io_context, so they say so.

#include <utility>  // before boost/asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace meshd::proxy {

using Executor = boost::asio::io_context::executor_type;
template <typename T = void>
using Task = boost::asio::awaitable<T, Executor>;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;
using Timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

// The completion token of a Task: `co_await s.async_read_some(b, kAwait)`.
inline constexpr boost::asio::use_awaitable_t<Executor> kAwait{};

// `co_await s.async_read_some(b, into(ec))`: the error lands in `ec` rather than in an exception.
inline auto into(boost::system::error_code& ec) { return boost::asio::redirect_error(kAwait, ec); }

}  // namespace meshd::proxy
