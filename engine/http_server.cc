#include "engine/http_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cassert>
#include <cctype>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/json.h"

namespace vigil::engine {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view kServerName = "vigil";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr int kMaxThreads = 64;
constexpr unsigned kHttp11 = 11;
// After the last response on a connection we read and discard what the client still sends, for at
// most this long, so that closing does not reset the connection before the client read our answer.
constexpr std::chrono::seconds kLingerTimeout{1};
// A failed accept (e.g. out of file descriptors) is retried after this pause instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The loop length depends only on the presented value, so the time taken reveals neither the
// token's bytes nor its length.
bool ConstantTimeEquals(std::string_view presented, std::string_view expected) {
  if (expected.empty()) return false;
  volatile unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < presented.size(); ++i) {
    diff = diff | static_cast<unsigned char>(presented[i] ^ expected[i % expected.size()]);
  }
  return diff == 0;
}

std::string_view ToStd(beast::string_view s) { return {s.data(), s.size()}; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string EndpointText(const net::ip::address& address, uint16_t port) {
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

base::Status BindError(std::string_view what, const std::string& endpoint, const beast::error_code& ec) {
  std::string message = std::string(what) + " " + endpoint + ": ";
  if (ec == net::error::address_in_use) return base::Unavailable(message + "address in use");
  return base::InvalidArgument(message + ec.message());
}

base::Status ValidateOptions(const HttpServerOptions& options) {
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return base::InvalidArgument("http threads must be in 1.." + std::to_string(kMaxThreads) + ", got " +
                                 std::to_string(options.threads));
  }
  if (options.max_body_bytes == 0) return base::InvalidArgument("http max_body_bytes must be > 0");
  if (options.max_header_bytes == 0 || options.max_header_bytes > UINT32_MAX) {
    return base::InvalidArgument("http max_header_bytes must be in 1..4294967295");
  }
  if (options.request_timeout.count() <= 0) return base::InvalidArgument("http request_timeout must be > 0");
  if (options.max_connections == 0) return base::InvalidArgument("http max_connections must be > 0");
  return base::Status::OK();
}

//! A server-made answer: the handler's response plus the headers only the server sets.
struct Reply {
  Reply(HttpResponse r, std::string authenticate = {})  // NOLINT(google-explicit-constructor)
      : response(std::move(r)), www_authenticate(std::move(authenticate)) {}

  HttpResponse response;         //!< Status, content type and body.
  std::string www_authenticate;  //!< WWW-Authenticate value; empty = header not sent.
  std::string allow;             //!< Allow value (for 405); empty = header not sent.
};

//! One registered handler.
struct RouteEntry {
  HttpServer::Handler handler;  //!< Called on a worker thread.
  RouteKind kind;               //!< Whether the bearer token is required.
};

//! method -> entry, for one path.
using MethodTable = std::map<std::string, RouteEntry, std::less<>>;
//! path -> its methods. Immutable once published; Route() publishes a modified copy.
using RouteTable = std::unordered_map<std::string, MethodTable>;

//! Finds the route of a request, checks the token and calls the handler. Thread-safe.
class Router {
 public:
  explicit Router(std::string token) : token_(std::move(token)), table_(std::make_shared<RouteTable>()) {}

  //! Copy-on-write, so that dispatch never waits for registration and vice versa.
  void Add(std::string method, std::string path, HttpServer::Handler handler, RouteKind kind) {
    std::lock_guard lock(mu_);
    auto copy = std::make_shared<RouteTable>(*table_);
    (*copy)[std::move(path)].insert_or_assign(std::move(method), RouteEntry{std::move(handler), kind});
    table_ = std::move(copy);
  }

  //! Answers one request; never throws.
  Reply Dispatch(const HttpRequest& request) const {
    std::shared_ptr<const RouteTable> table;
    {
      std::lock_guard lock(mu_);
      table = table_;
    }
    auto path_it = table->find(request.path);
    if (path_it == table->end()) return {JsonError(404, "no route for " + request.path)};
    auto method_it = path_it->second.find(request.method);
    if (method_it == path_it->second.end()) {
      Reply reply{JsonError(405, "method " + request.method + " is not allowed on " + request.path)};
      for (const auto& [method, entry] : path_it->second) {
        reply.allow += (reply.allow.empty() ? "" : ", ") + method;
      }
      return reply;
    }
    const RouteEntry& entry = method_it->second;
    if (entry.kind == RouteKind::kMutating) {
      if (token_.empty()) {
        return {JsonError(403, "mutating routes are disabled: no HTTP token is configured")};
      }
      if (!Authorized(request)) {
        return {JsonError(401, "missing or invalid bearer token"), "Bearer realm=\"vigil\""};
      }
    }
    try {
      return {entry.handler(request)};
    } catch (const std::exception& e) {
      spdlog::error("http handler {} {} threw: {}", request.method, request.path, e.what());
    } catch (...) {
      spdlog::error("http handler {} {} threw a non-standard exception", request.method, request.path);
    }
    return {JsonError(500, "internal error")};
  }

 private:
  bool Authorized(const HttpRequest& request) const {
    std::optional<std::string_view> value = request.Header("Authorization");
    constexpr std::string_view kScheme = "Bearer ";
    if (!value || value->size() < kScheme.size() || !IEquals(value->substr(0, kScheme.size()), kScheme)) {
      return false;
    }
    return ConstantTimeEquals(Trim(value->substr(kScheme.size())), token_);
  }

  //! The bearer token; empty = mutating routes refused. Never logged.
  const std::string token_;
  //! Guards the table_ pointer (not the table, which is immutable).
  mutable std::mutex mu_;
  //! Current route table.
  std::shared_ptr<const RouteTable> table_;
};

//! Per-connection limits, copied from the options.
struct SessionLimits {
  std::size_t max_body_bytes;                 //!< Request body limit, bytes.
  std::size_t max_header_bytes;               //!< Request line + headers limit, bytes.
  std::chrono::milliseconds request_timeout;  //!< Per request / per idle period.
};

//! One TCP connection: read a request, answer it, repeat while keep-alive holds. Runs on its own
//! strand, so its members need no lock. Kept alive by the shared_ptr its pending operation holds.
//! Counts itself in `open` (the server's count, owned by its Impl, which outlives every session)
//! while it lives; a refused connection's session has none.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const Router& router, const SessionLimits& limits,
          std::atomic<std::size_t>* open)
      : stream_(std::move(socket)), router_(router), limits_(limits), open_(open) {
    if (open_ != nullptr) open_->fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    if (open_ != nullptr) open_->fetch_sub(1, std::memory_order_relaxed);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  //! Answers 503 without reading a request, then closes gracefully (the peer reads the answer even
  //! if it has sent a request meanwhile).
  void Refuse() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->Respond({JsonError(503, "too many connections")}, kHttp11, false);
    });
  }

  //! Starts reading on the session's strand.
  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    // One deadline covers the idle wait, the header and the body: a slow sender cannot extend it.
    stream_.expires_after(limits_.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    if (parser_->is_done()) return HandleRequest();
    if (IEquals(ToStd(parser_->get()[http::field::expect]), "100-continue")) {
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                         if (write_ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    HandleRequest();
  }

  void OnReadError(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
      return Respond(
          {JsonError(413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes")},
          kHttp11, false);
    }
    if (ec == http::error::header_limit) {
      return Respond(
          {JsonError(431, "request header exceeds " + std::to_string(limits_.max_header_bytes) + " bytes")},
          kHttp11, false);
    }
    // end_of_stream / partial_message: the peer went away; timeout and socket errors: nothing to say.
    bool peer_gone = ec == http::error::end_of_stream || ec == http::error::partial_message;
    if (!peer_gone && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return Respond({JsonError(400, "malformed HTTP request: " + ec.message())}, kHttp11, false);
    }
    Close();
  }

  void HandleRequest() {
    http::request<http::string_body> message = parser_->release();
    HttpRequest request;
    request.method = std::string(ToStd(message.method_string()));
    request.target = std::string(ToStd(message.target()));
    std::string_view target = request.target;
    std::size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
    for (const auto& field : message) {
      request.headers.emplace_back(ToStd(field.name_string()), ToStd(field.value()));
    }
    request.body = std::move(message.body());
    Respond(router_.Dispatch(request), message.version(), message.keep_alive());
  }

  void Respond(Reply reply, unsigned version, bool keep_alive) {
    HttpResponse& r = reply.response;
    if (r.status < 200 || r.status > 599) {
      spdlog::error("http handler returned invalid status {}", r.status);
      r = JsonError(500, "internal error");
    }
    if (r.status == 204 || r.status == 304) r.body.clear();  // these statuses carry no body
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, beast::string_view(kServerName.data(), kServerName.size()));
    response_.set(http::field::content_type, r.content_type);
    if (!reply.www_authenticate.empty()) response_.set(http::field::www_authenticate, reply.www_authenticate);
    if (!reply.allow.empty()) response_.set(http::field::allow, reply.allow);
    response_.body() = std::move(r.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    stream_.expires_after(limits_.request_timeout);
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return Close();
    if (!keep_alive) return CloseGracefully();
    ReadHeader();
  }

  void CloseGracefully() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->Close();
                              self->Drain();
                            });
  }

  void Close() { stream_.close(); }

  //! The connection, with its deadline.
  beast::tcp_stream stream_;
  //! Bytes read but not yet parsed (the start of a pipelined next request).
  beast::flat_buffer buffer_;
  //! Owned by the server's Impl, which outlives every session.
  const Router& router_;
  //! Limits for this connection.
  const SessionLimits limits_;
  //! The server's count of open connections; null for a refused one.
  std::atomic<std::size_t>* open_;
  //! Parser of the request being read; a fresh one per request.
  std::optional<http::request_parser<http::string_body>> parser_;
  //! Response being written; must live until the write completes.
  http::response<http::string_body> response_;
  //! Scratch space for discarding input while closing.
  std::array<char, 4096> drain_buffer_{};
};

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (IEquals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    std::size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

HttpResponse JsonResponse(int status, std::string body) {
  return {status, "application/json", std::move(body)};
}

HttpResponse TextResponse(int status, std::string body, std::string content_type) {
  return {status, std::move(content_type), std::move(body)};
}

HttpResponse JsonError(int status, std::string_view message) {
  return JsonResponse(status, "{\"error\":" + base::JsonString(message) + "}");
}

//! The listener and everything the worker threads touch. Everything that refers to the io_context
//! lives in Runtime, which Stop() destroys after joining the threads; that destruction also destroys
//! (and so closes) every open connection.
struct HttpServer::Impl {
  //! The io_context and the objects bound to it; destroyed in reverse order, io_context last.
  struct Runtime {
    explicit Runtime(int threads) : ioc(threads), work(ioc.get_executor()), acceptor(ioc), retry_timer(ioc) {}
    net::io_context ioc;                                            //!< Runs everything.
    net::executor_work_guard<net::io_context::executor_type> work;  //!< Keeps run() alive.
    tcp::acceptor acceptor;                                         //!< The listening socket.
    net::steady_timer retry_timer;                                  //!< Backs off failed accepts.
  };

  explicit Impl(const HttpServerOptions& options)
      : router(options.token),
        limits{options.max_body_bytes, options.max_header_bytes, options.request_timeout},
        max_connections(options.max_connections),
        threads_wanted(options.threads),
        runtime(std::make_unique<Runtime>(options.threads)) {}

  base::Status Listen(const std::string& bind_address, uint16_t port) {
    beast::error_code ec;
    net::ip::address address =
        net::ip::make_address(bind_address == "localhost" ? "127.0.0.1" : bind_address, ec);
    if (ec)
      return base::InvalidArgument("http bind_address '" + bind_address + "' is not a numeric IP address");
    tcp::endpoint wanted(address, port);
    std::string text = EndpointText(address, port);
    tcp::acceptor& acceptor = runtime->acceptor;
    acceptor.open(wanted.protocol(), ec);
    if (ec) return BindError("cannot open a socket for", text, ec);
    acceptor.set_option(net::socket_base::reuse_address(true), ec);  // restart without waiting out TIME_WAIT
    if (ec) return BindError("cannot set SO_REUSEADDR for", text, ec);
    acceptor.bind(wanted, ec);
    if (ec) return BindError("cannot bind", text, ec);
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return BindError("cannot listen on", text, ec);
    endpoint = acceptor.local_endpoint(ec);
    if (ec) return BindError("cannot read the local address of", text, ec);
    return base::Status::OK();
  }

  void Accept() {
    runtime->acceptor.async_accept(net::make_strand(runtime->ioc),
                                   beast::bind_front_handler(&Impl::OnAccept, this));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("http accept on {} failed: {}", EndpointText(endpoint.address(), endpoint.port()),
                   ec.message());
      runtime->retry_timer.expires_after(kAcceptRetryDelay);
      runtime->retry_timer.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // small responses must not wait for delayed ACKs
    if (open_connections.load(std::memory_order_relaxed) < max_connections) {
      std::make_shared<Session>(std::move(socket), router, limits, &open_connections)->Run();
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_refusal_log >= std::chrono::seconds(10)) {  // accepts complete one at a time
        last_refusal_log = now;
        spdlog::warn("http: {} connections open, the limit (max_connections); new ones get 503",
                     open_connections.load(std::memory_order_relaxed));
      }
      std::make_shared<Session>(std::move(socket), router, limits, nullptr)->Refuse();
    }
    Accept();
  }

  void StartThreads() {
    threads.reserve(static_cast<std::size_t>(threads_wanted));
    for (int i = 0; i < threads_wanted; ++i) {
      threads.emplace_back([ioc = &runtime->ioc] {
        for (;;) {
          try {
            ioc->run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("http worker caught: {}", e.what());
          }
        }
      });
    }
  }

  void Stop() {
    std::lock_guard lock(stop_mu);
    if (!runtime) return;
    runtime->ioc.stop();
    for (std::thread& t : threads) t.join();
    threads.clear();
    runtime.reset();
    spdlog::info("http server on {} stopped", EndpointText(endpoint.address(), endpoint.port()));
  }

  //! Routes and token; declared before runtime so that sessions never outlive it.
  Router router;
  //! Copied into every session.
  const SessionLimits limits;
  const std::size_t max_connections;
  std::atomic<std::size_t> open_connections{0};              //!< Sessions alive (see Session).
  std::chrono::steady_clock::time_point last_refusal_log{};  //!< Refusals are logged every 10 s at most.
  //! options.threads.
  const int threads_wanted;
  //! The endpoint actually listened on; kept after Stop for port().
  tcp::endpoint endpoint;
  //! Null once stopped.
  std::unique_ptr<Runtime> runtime;
  //! Worker threads running runtime->ioc.
  std::vector<std::thread> threads;
  //! Serialises Stop() calls.
  std::mutex stop_mu;
};

base::Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options) {
  VIGIL_RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<Impl>(options);
  VIGIL_RETURN_IF_ERROR(impl->Listen(options.bind_address, options.port));
  impl->Accept();
  impl->StartThreads();
  std::string where = EndpointText(impl->endpoint.address(), impl->endpoint.port());
  spdlog::info("http server listening on {} ({} threads, mutating routes {})", where, options.threads,
               options.token.empty() ? "disabled: no token configured" : "enabled");
  if (!impl->endpoint.address().is_loopback()) {
    spdlog::warn("http server on {} is reachable from other hosts; read-only routes need no token", where);
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string path, Handler handler, RouteKind kind) {
  assert(!path.empty() && path.front() == '/' && path.find('?') == std::string::npos);
  assert(handler);
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  impl_->router.Add(std::move(method), std::move(path), std::move(handler), kind);
}

uint16_t HttpServer::port() const { return impl_->endpoint.port(); }

std::string HttpServer::bound_address() const { return impl_->endpoint.address().to_string(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace vigil::engine
