#include "engine/http_server.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vigil::engine {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

constexpr std::string_view kToken = "s3cret-t0ken-value";

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

//! A synchronous HTTP/1.1 client over loopback; one object = one TCP connection.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  //! Sends one request and reads its response; throws beast::system_error on a transport error.
  Response Send(http::verb verb, const std::string& target, const std::string& body = "",
                const std::string& authorization = "", bool keep_alive = true) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    req.body() = body;
    req.keep_alive(keep_alive);
    req.prepare_payload();
    http::write(stream_, req);
    return Read();
  }

  //! Reads one response.
  Response Read() {
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

  //! Writes raw bytes.
  void WriteRaw(std::string_view bytes) { net::write(stream_, net::buffer(bytes.data(), bytes.size())); }

  //! The underlying socket.
  tcp::socket& socket() { return stream_.socket(); }

 private:
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

HttpServerOptions TestOptions(std::string token = std::string(kToken)) {
  HttpServerOptions options;
  options.port = 0;
  options.token = std::move(token);
  return options;
}

std::unique_ptr<HttpServer> StartOrDie(const HttpServerOptions& options) {
  auto server = HttpServer::Start(options);
  REQUIRE(server.ok());
  return std::move(server).value();
}

void AddDefaultRoutes(HttpServer& server) {
  server.Route(
      "GET", "/healthz", [](const HttpRequest&) { return TextResponse(200, "ok\n"); }, RouteKind::kReadOnly);
  server.Route(
      "POST", "/v1/models/promote",
      [](const HttpRequest& req) { return JsonResponse(200, "{\"promoted\":\"" + req.body + "\"}"); },
      RouteKind::kMutating);
}

TEST_CASE("HttpServer options default to loopback and documented values", "[engine][http]") {
  HttpServerOptions defaults;
  CHECK(defaults.bind_address == "127.0.0.1");
  CHECK(defaults.port == 9464);
  CHECK(defaults.token.empty());
  CHECK(defaults.threads == 1);
  CHECK(defaults.max_body_bytes == 1024 * 1024);

  HttpServerOptions options;
  options.port = 0;  // only the port differs from the defaults
  auto server = StartOrDie(options);
  CHECK(server->bound_address() == "127.0.0.1");
  CHECK(server->port() != 0);
}

TEST_CASE("HttpServer serves a GET route and exposes the request", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  AddDefaultRoutes(*server);
  server->Route(
      "GET", "/echo",
      [](const HttpRequest& req) {
        std::string out = req.method + "|" + req.path + "|" + req.query + "|" +
                          req.QueryParam("name").value_or("-") + "|" +
                          std::string(req.Header("x-custom").value_or("-")) + "|" +
                          (req.QueryParam("absent") ? "present" : "absent");
        return TextResponse(200, out);
      },
      RouteKind::kReadOnly);

  Client client(server->port());
  Response health = client.Send(http::verb::get, "/healthz");
  CHECK(health.result_int() == 200);
  CHECK(health.body() == "ok\n");
  CHECK(Str(health[http::field::content_type]) == "text/plain; charset=utf-8");
  CHECK(Str(health[http::field::server]) == "vigil");

  http::request<http::string_body> req{http::verb::get, "/echo?name=a%20b+c&x=1", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set("X-Custom", "hello");
  Client raw(server->port());
  std::ostringstream wire;
  wire << req;
  raw.WriteRaw(wire.str());
  Response echo = raw.Read();
  CHECK(echo.result_int() == 200);
  CHECK(echo.body() == "GET|/echo|name=a%20b+c&x=1|a b c|hello|absent");
}

TEST_CASE("HttpServer answers 404 and 405 with JSON errors", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  AddDefaultRoutes(*server);
  Client client(server->port());

  Response missing = client.Send(http::verb::get, "/nope");
  CHECK(missing.result_int() == 404);
  CHECK(Str(missing[http::field::content_type]) == "application/json");
  CHECK(missing.body() == R"({"error":"no route for /nope"})");

  Response wrong_method = client.Send(http::verb::delete_, "/healthz");
  CHECK(wrong_method.result_int() == 405);
  CHECK(Str(wrong_method[http::field::allow]) == "GET");
  CHECK(wrong_method.body().find("\"error\"") != std::string::npos);
}

TEST_CASE("HttpServer mutating routes need the bearer token", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  AddDefaultRoutes(*server);
  Client client(server->port());
  const std::string bearer = "Bearer " + std::string(kToken);

  Response no_token = client.Send(http::verb::post, "/v1/models/promote", "v7");
  CHECK(no_token.result_int() == 401);
  CHECK(Str(no_token[http::field::www_authenticate]).rfind("Bearer", 0) == 0);
  CHECK(no_token.body().find("\"error\"") != std::string::npos);

  for (const std::string& wrong :
       {std::string("Bearer nope"), bearer + "x", bearer.substr(0, bearer.size() - 1),
        std::string("Basic ") + std::string(kToken), std::string(kToken)}) {
    Response res = client.Send(http::verb::post, "/v1/models/promote", "v7", wrong);
    CHECK(res.result_int() == 401);
    CHECK(Str(res[http::field::www_authenticate]).rfind("Bearer", 0) == 0);
    CHECK(res.body().find(kToken) == std::string::npos);
  }

  Response ok = client.Send(http::verb::post, "/v1/models/promote", "v7", bearer);
  CHECK(ok.result_int() == 200);
  CHECK(ok.body() == R"({"promoted":"v7"})");
  // The scheme is case-insensitive (RFC 7235).
  CHECK(client.Send(http::verb::post, "/v1/models/promote", "v8", "bearer " + std::string(kToken))
            .result_int() == 200);
  // Read-only routes never ask for it.
  CHECK(client.Send(http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("HttpServer without a token refuses mutating routes with 403", "[engine][http]") {
  auto server = StartOrDie(TestOptions(""));
  std::atomic<bool> called{false};
  server->Route(
      "POST", "/v1/models/rollback",
      [&called](const HttpRequest&) {
        called = true;
        return JsonResponse(200, "{}");
      },
      RouteKind::kMutating);
  Client client(server->port());
  for (const std::string& auth : {std::string(), std::string("Bearer "), std::string("Bearer anything")}) {
    Response res = client.Send(http::verb::post, "/v1/models/rollback", "", auth);
    CHECK(res.result_int() == 403);
    CHECK(res.body().find("no HTTP token is configured") != std::string::npos);
  }
  CHECK_FALSE(called);
}

TEST_CASE("HttpServer keeps a connection alive across requests", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  std::atomic<int> calls{0};
  server->Route(
      "GET", "/count", [&calls](const HttpRequest&) { return TextResponse(200, std::to_string(++calls)); },
      RouteKind::kReadOnly);
  Client client(server->port());
  const tcp::endpoint local = client.socket().local_endpoint();
  for (int i = 1; i <= 10; ++i) {
    Response res = client.Send(http::verb::get, "/count");
    REQUIRE(res.result_int() == 200);
    CHECK(res.body() == std::to_string(i));
    CHECK(res.keep_alive());
  }
  CHECK(client.socket().local_endpoint() == local);

  // Two pipelined requests in one write are answered in order.
  client.WriteRaw("GET /count HTTP/1.1\r\nHost: x\r\n\r\nGET /count HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(client.Read().body() == "11");
  CHECK(client.Read().body() == "12");

  // Connection: close is honoured: the server answers, then closes.
  Response last = client.Send(http::verb::get, "/count", "", "", /*keep_alive=*/false);
  CHECK(last.body() == "13");
  CHECK_FALSE(last.keep_alive());
  CHECK_THROWS_AS(client.Read(), beast::system_error);
}

TEST_CASE("HttpServer Stop is idempotent", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  AddDefaultRoutes(*server);
  const uint16_t port = server->port();
  Client idle(port);  // an open keep-alive connection must not block Stop
  CHECK(idle.Send(http::verb::get, "/healthz").result_int() == 200);
  server->Stop();
  server->Stop();
  CHECK(server->port() == port);
  CHECK_THROWS_AS(idle.Read(), beast::system_error);
  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  CHECK(ec);
  server.reset();  // the destructor calls Stop a third time
}

TEST_CASE("HttpServer reports a taken port with a clear Status", "[engine][http]") {
  auto first = StartOrDie(TestOptions());
  HttpServerOptions options = TestOptions();
  options.port = first->port();
  auto second = HttpServer::Start(options);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == base::StatusCode::kUnavailable);
  CHECK(second.status().message() ==
        "cannot bind 127.0.0.1:" + std::to_string(first->port()) + ": address in use");
  CHECK(second.status().message().find(kToken) == std::string::npos);
}

TEST_CASE("HttpServer rejects invalid options", "[engine][http]") {
  HttpServerOptions options = TestOptions();
  options.threads = 0;
  CHECK(HttpServer::Start(options).status().code() == base::StatusCode::kInvalidArgument);
  options = TestOptions();
  options.bind_address = "not-an-address";
  auto bad_address = HttpServer::Start(options);
  CHECK(bad_address.status().code() == base::StatusCode::kInvalidArgument);
  CHECK(bad_address.status().message().find("not-an-address") != std::string::npos);
  options = TestOptions();
  options.max_body_bytes = 0;
  CHECK_FALSE(HttpServer::Start(options).ok());
  options = TestOptions();
  options.max_connections = 0;
  CHECK(HttpServer::Start(options).status().message() == "http max_connections must be > 0");
}

TEST_CASE("HttpServer answers 503 beyond max_connections and serves again once one closes",
          "[engine][http]") {
  HttpServerOptions options = TestOptions();
  options.max_connections = 2;
  auto server = StartOrDie(options);
  AddDefaultRoutes(*server);
  auto first = std::make_unique<Client>(server->port());
  Client second(server->port());
  CHECK(first->Send(http::verb::get, "/healthz").result_int() == 200);
  CHECK(second.Send(http::verb::get, "/healthz").result_int() == 200);

  // A third connection is answered 503 without being read, and closed; the answer arrives whole
  // even when the client has sent a request meanwhile.
  Client third(server->port());
  Response refused = third.Read();
  CHECK(refused.result_int() == 503);
  CHECK(refused.body() == R"({"error":"too many connections"})");
  CHECK_FALSE(refused.keep_alive());
  CHECK_THROWS_AS(third.Read(), beast::system_error);
  Client eager(server->port());
  eager.WriteRaw("POST /v1/models/promote HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nv2");
  CHECK(eager.Read().result_int() == 503);

  // The open ones still work; once one closes, a new connection is served.
  CHECK(second.Send(http::verb::get, "/healthz").result_int() == 200);
  first.reset();
  Response served;
  for (int attempt = 0; attempt < 100; ++attempt) {  // the server notices the close asynchronously
    served = Client(server->port()).Send(http::verb::get, "/healthz");
    if (served.result_int() == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(served.result_int() == 200);
}

TEST_CASE("HttpServer answers 413 to a body over max_body_bytes", "[engine][http]") {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  auto server = StartOrDie(options);
  server->Route(
      "POST", "/v1/score",
      [](const HttpRequest& req) {
        return JsonResponse(200, "{\"size\":" + std::to_string(req.body.size()) + "}");
      },
      RouteKind::kReadOnly);

  CHECK(Client(server->port()).Send(http::verb::post, "/v1/score", std::string(1024, 'a')).body() ==
        R"({"size":1024})");
  Client client(server->port());
  Response res = client.Send(http::verb::post, "/v1/score", std::string(4096, 'a'));
  CHECK(res.result_int() == 413);
  CHECK(res.body().find("\"error\"") != std::string::npos);
  CHECK_FALSE(res.keep_alive());

  // A chunked body is limited while it streams in.
  Client chunked(server->port());
  chunked.WriteRaw("POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                   std::string(2048, 'b') + "\r\n0\r\n\r\n");
  CHECK(chunked.Read().result_int() == 413);
}

TEST_CASE("HttpServer answers 400 to a malformed request and 500 to a throwing handler", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  server->Route(
      "GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaputt"); },
      RouteKind::kReadOnly);
  Client client(server->port());
  Response boom = client.Send(http::verb::get, "/boom");
  CHECK(boom.result_int() == 500);
  CHECK(boom.body() == R"({"error":"internal error"})");
  CHECK(client.Send(http::verb::get, "/boom").result_int() == 500);  // the connection survives

  Client garbage(server->port());
  garbage.WriteRaw("THIS IS NOT HTTP\r\n\r\n");
  CHECK(garbage.Read().result_int() == 400);
}

TEST_CASE("HttpServer closes a connection that stays silent past request_timeout", "[engine][http]") {
  HttpServerOptions options = TestOptions();
  options.request_timeout = std::chrono::milliseconds(100);
  auto server = StartOrDie(options);
  Client client(server->port());
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(client.Read(), beast::system_error);
  // The read ends (the server closed the connection) rather than hanging; how soon is not asserted.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(120));
}

TEST_CASE("HttpServer accepts routes registered after Start", "[engine][http]") {
  auto server = StartOrDie(TestOptions());
  Client client(server->port());
  CHECK(client.Send(http::verb::get, "/late").result_int() == 404);
  server->Route(
      "get", "/late", [](const HttpRequest&) { return JsonResponse(200, "{\"v\":1}"); },
      RouteKind::kReadOnly);
  CHECK(client.Send(http::verb::get, "/late").body() == R"({"v":1})");
  server->Route(
      "GET", "/late", [](const HttpRequest&) { return JsonResponse(200, "{\"v\":2}"); },
      RouteKind::kReadOnly);
  CHECK(client.Send(http::verb::get, "/late").body() == R"({"v":2})");
}

TEST_CASE("HttpServer never logs the token", "[engine][http]") {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger =
      std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  {
    auto server = StartOrDie(TestOptions());
    AddDefaultRoutes(*server);
    server->Route(
        "GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("x"); },
        RouteKind::kReadOnly);
    Client client(server->port());
    client.Send(http::verb::post, "/v1/models/promote", "", "Bearer wrong");
    client.Send(http::verb::post, "/v1/models/promote", "", "Bearer " + std::string(kToken));
    client.Send(http::verb::get, "/boom", "", "Bearer " + std::string(kToken));
    HttpServerOptions taken = TestOptions();
    taken.port = server->port();
    CHECK_FALSE(HttpServer::Start(taken).ok());
  }
  spdlog::set_default_logger(previous);
  const std::string log = captured.str();
  CHECK(log.find("listening on 127.0.0.1:") != std::string::npos);
  CHECK(log.find(kToken) == std::string::npos);
}

TEST_CASE("HttpServer serves concurrent clients", "[engine][http]") {
  HttpServerOptions options = TestOptions();
  options.threads = 2;
  auto server = StartOrDie(options);
  std::atomic<int> calls{0};
  server->Route(
      "POST", "/v1/score",
      [&calls](const HttpRequest& req) {
        ++calls;
        return JsonResponse(200, req.body);
      },
      RouteKind::kMutating);

  constexpr int kClients = 4;
  constexpr int kRequestsPerClient = 200;
  constexpr int kRequestsPerConnection = 25;
  std::atomic<int> successes{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      try {
        std::unique_ptr<Client> client;
        for (int i = 0; i < kRequestsPerClient; ++i) {
          if (i % kRequestsPerConnection == 0) client = std::make_unique<Client>(server->port());
          const std::string body = "{\"client\":" + std::to_string(c) + ",\"i\":" + std::to_string(i) + "}";
          Response res = client->Send(http::verb::post, "/v1/score", body, "Bearer " + std::string(kToken));
          if (res.result_int() == 200 && res.body() == body) ++successes;
        }
      } catch (const std::exception&) {
        // counted as missing successes below; Catch2 assertions are not thread-safe
      }
    });
  }
  for (std::thread& t : clients) t.join();
  CHECK(successes == kClients * kRequestsPerClient);
  CHECK(calls == kClients * kRequestsPerClient);
}

}  // namespace
}  // namespace vigil::engine
