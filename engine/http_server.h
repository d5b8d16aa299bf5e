#pragma once
// The one HTTP server of vigil (Boost.Beast on Boost.Asio): /metrics, /healthz, /readyz, /v1/score,
// /v1/models and the mutating model calls all go through it. The server knows nothing about those
// routes; the application registers them with HttpServer::Route.
//
// Contract, in order:
//   1. HttpServer::Start binds, listens and starts `threads` worker threads. Failure to bind is a Status,
//      never an exception.
//   2. Routes are exact (method, path) pairs; the query string is not part of the match. Routes may be
//      registered before or after Start; a request sees the route table as it was when the request
//      arrived. Registering the same (method, path) again replaces the handler.
//   3. Handlers run on the server's worker threads, possibly several at once (one per connection), so
//      they must be thread-safe. They must also be fast (no blocking I/O): while a handler runs, its
//      worker thread serves no other connection.
//   4. Unknown path -> 404, known path with another method -> 405 (with an `Allow` header). Both,
//      and every other error the server produces itself, have a JSON body {"error":"..."}.
//   5. RouteKind::kMutating routes need `Authorization: Bearer <token>`. No token configured -> 403;
//      missing or wrong credentials -> 401 with `WWW-Authenticate: Bearer`. The handler is not called.
//   6. HTTP/1.1 keep-alive is honoured. A body larger than max_body_bytes -> 413 and the connection is
//      closed; a malformed request -> 400 and the connection is closed.
//   7. Stop() is idempotent: it closes the listener, drops open connections, lets running handlers
//      finish and joins the worker threads. The destructor calls Stop().
//   8. The token never appears in a log line or in an error message.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace vigil::engine {

//! Options of HttpServer::Start. Each field states its default and unit.
struct HttpServerOptions {
  //! Numeric IPv4 or IPv6 address to listen on ("localhost" is read as 127.0.0.1). Default
  //! "127.0.0.1": loopback only. Listening on every interface ("0.0.0.0", "::") must be asked for.
  std::string bind_address = "127.0.0.1";
  //! TCP port. Default 9464. 0 picks a free port; HttpServer::port() tells which after Start.
  uint16_t port = 9464;
  //! Bearer token that RouteKind::kMutating routes require. Default empty: every mutating route
  //! answers 403 ("no token is configured"). Compared in constant time; never logged.
  std::string token;
  //! Number of worker threads that run the I/O and the handlers. Default 1; must be 1..64.
  int threads = 1;
  //! Largest accepted request body, in bytes. Default 1 MiB; larger bodies get 413. Must be > 0.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  //! Largest accepted request line plus headers, in bytes. Default 8 KiB; larger get 431. Must be > 0.
  std::size_t max_header_bytes = std::size_t{8} << 10;
  //! Time allowed to receive one whole request and to send its response; also how long an idle
  //! keep-alive connection is kept open. Default 30 s. The connection is closed when it runs out.
  std::chrono::milliseconds request_timeout{30'000};
  //! Open connections at most. A connection beyond it is answered 503 and closed at once, so idle or
  //! slow clients cannot exhaust the process's file descriptors. Default 256; must be > 0.
  std::size_t max_connections = 256;
};

//! One request as a handler sees it. Lives only for the duration of the handler call.
struct HttpRequest {
  //! Method as sent, e.g. "GET", "POST".
  std::string method;
  //! Request target as sent, e.g. "/v1/models?limit=5".
  std::string target;
  //! Path part of the target, before '?', not percent-decoded, e.g. "/v1/models".
  std::string path;
  //! Query part of the target, after '?', not decoded; empty when there is none, e.g. "limit=5".
  std::string query;
  //! Header fields in arrival order, names as sent (compare them case-insensitively; see Header()).
  std::vector<std::pair<std::string, std::string>> headers;
  //! Request body; empty when there is none.
  std::string body;

  //! Value of the first header called `name` (case-insensitive), or nullopt. Views into `headers`.
  std::optional<std::string_view> Header(std::string_view name) const;
  //! Percent-decoded value of the first query parameter called `name` ('+' reads as a space), or
  //! nullopt. "a&b=" gives "" for both a and b.
  std::optional<std::string> QueryParam(std::string_view name) const;
};

//! What a handler returns. The server adds Content-Length, Connection and Server headers.
struct HttpResponse {
  //! HTTP status code, e.g. 200.
  int status = 200;
  //! Content-Type header value.
  std::string content_type = "application/json";
  //! Response body.
  std::string body;
};

//! A response with Content-Type application/json; `body` must already be JSON.
HttpResponse JsonResponse(int status, std::string body);
//! A response with the given content type, text/plain by default (e.g. Prometheus text exposition).
HttpResponse TextResponse(int status, std::string body,
                          std::string content_type = "text/plain; charset=utf-8");
//! The JSON error body every server-made error uses: {"error":"<message, JSON-escaped>"}.
HttpResponse JsonError(int status, std::string_view message);

//! Whether a route changes state, and so needs the bearer token.
enum class RouteKind {
  kReadOnly,  //!< Anyone who can reach the port may call it (/metrics, /healthz, /v1/score).
  kMutating,  //!< Needs `Authorization: Bearer <token>` (model promote/rollback, ...).
};

//! The single HTTP server. Lifecycle: Start() -> Route()* -> Stop() (or destruction).
//! Thread-safety: Route(), port(), bound_address() and Stop() may be called from any thread, but
//! Stop() and the destructor must not be called from inside a handler (they join the handler threads).
//! Owns its listener, its connections and its worker threads.
class HttpServer {
 public:
  //! Handles one request; see the contract above (thread-safe, fast, should not throw: an exception
  //! becomes a 500 whose body does not carry the exception text).
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  //! Validates `options`, binds, listens and starts the worker threads. Errors: InvalidArgument for
  //! bad options or an address that cannot be bound ("cannot bind 10.0.0.9:9464: ..."), Unavailable
  //! when the port is taken ("cannot bind 127.0.0.1:9464: address in use").
  static base::Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  //! Calls Stop().
  ~HttpServer();

  //! Serves `method` (e.g. "GET"; upper case) on the exact `path` (starts with '/', no query) with
  //! `handler`. May be called before or after Start, from any thread; replaces an earlier handler of
  //! the same (method, path).
  void Route(std::string method, std::string path, Handler handler, RouteKind kind);

  //! The port actually listened on (the chosen one when options.port was 0). Still valid after Stop().
  uint16_t port() const;
  //! The address actually listened on, e.g. "127.0.0.1".
  std::string bound_address() const;

  //! Stops accepting, closes every connection, waits for running handlers and joins the threads.
  //! Idempotent; later calls return at once.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);

  //! Listener, connections, route table and threads.
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::engine
