#include "tests/support/private_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace vigil::testing {
namespace {

//! A port nobody listens on now (the kernel's choice for an ephemeral bind).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string Quoted(const std::string& arg) {
  std::string q = "'";
  for (const char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

//! True while `pid` runs; a zombie (gone, not yet reaped by whoever adopted it) does not.
bool Alive(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

}  // namespace

std::unique_ptr<PrivateBroker> PrivateBroker::Start() {
  const char* previous = std::getenv("VIGIL_TEST_BOOTSTRAP");
  std::unique_ptr<PrivateBroker> broker;
  for (int attempt = 0; attempt < 3 && !broker; ++attempt) {
    const int port = FreePort();
    REQUIRE(port > 0);
    auto candidate = std::unique_ptr<PrivateBroker>(new PrivateBroker(
        port, TempDir("vigil-broker") + "/kafka", previous ? previous : "", previous != nullptr));
    const std::string log = candidate->state_dir_ + ".start.log";
    if (Shell(candidate->Script("start") + " > " + log + " 2>&1") == 0) {
      broker = std::move(candidate);
    } else {
      UNSCOPED_INFO("scripts/kafka start on port " << port << " failed:\n" << ReadFile(log));
    }
  }
  REQUIRE(broker);
  setenv("VIGIL_TEST_BOOTSTRAP", broker->bootstrap().c_str(), 1);
  return broker;
}

PrivateBroker::~PrivateBroker() {
  (void)Shell(Script("stop") + " > /dev/null 2>&1");
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(state_dir_).parent_path(), ignored);
  if (had_previous_) {
    setenv("VIGIL_TEST_BOOTSTRAP", previous_bootstrap_.c_str(), 1);
  } else {
    unsetenv("VIGIL_TEST_BOOTSTRAP");
  }
}

void PrivateBroker::Restart(int signal) {
  const int pid = std::atoi(ReadFile(state_dir_ + "/pid").c_str());
  REQUIRE(pid > 0);
  // The running JVM's own command line: the same configuration, storage and (pinned) controller port.
  const std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  const std::string exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe").string();
  std::vector<std::string> args;
  for (size_t start = 0, end; start < cmdline.size(); start = end + 1) {
    end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    args.push_back(cmdline.substr(start, end - start));
  }
  REQUIRE(args.size() > 1);
  REQUIRE(args.back() == state_dir_ + "/server.properties");

  REQUIRE(kill(pid, signal) == 0);
  const auto stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Alive(pid)) {
    INFO(Log());
    REQUIRE(std::chrono::steady_clock::now() < stop_deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string command = "setsid " + Quoted(exe);
  for (size_t i = 1; i < args.size(); ++i) command += " " + Quoted(args[i]);
  command += " >> " + state_dir_ + "/server.log 2>&1 < /dev/null & echo $! > " + state_dir_ + "/pid";
  REQUIRE(Shell(command) == 0);
  const auto start_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!Answers()) {
    INFO(Log());
    REQUIRE(std::chrono::steady_clock::now() < start_deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

std::string PrivateBroker::bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }

std::string PrivateBroker::Log(size_t max_chars) const {
  const std::string text = ReadFile(state_dir_ + "/server.log");
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

std::string PrivateBroker::Script(const std::string& args) const {
  return "VIGIL_KAFKA_PORT=" + std::to_string(port_) + " VIGIL_KAFKA_STATE_DIR=" + state_dir_ + " " +
         std::string(VIGIL_SOURCE_DIR) + "/scripts/kafka " + args;
}

bool PrivateBroker::Answers() const {
  return Shell("kcat -b " + bootstrap() + " -L -m 2 2>/dev/null | grep -q 'broker 1 at " + bootstrap() +
               "'") == 0;
}

}  // namespace vigil::testing
