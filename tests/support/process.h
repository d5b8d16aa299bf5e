#pragma once
// Child processes for end-to-end tests: run the real `vigil` binary (or kcat), signal it, wait for it.

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace vigil::testing {

//! Path of the vigil binary under test.
std::string VigilBinary();

//! A running child. The destructor kills it (SIGKILL) if it still runs.
class Child {
 public:
  //! Starts `argv` with stdout and stderr appended to `log_path`.
  Child(const std::vector<std::string>& argv, const std::string& log_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void Signal(int sig);
  //! Waits for exit; returns the exit code, 128+signal when killed, or -1 on timeout. A non-zero exit
  //! code also prints the end of the child's log to stderr (ctest shows it when the test fails).
  int Wait(std::chrono::milliseconds timeout);
  int pid() const { return pid_; }

 private:
  std::string log_path_;
  int pid_ = -1;
  bool reaped_ = false;
};

//! Runs a command through /bin/sh and returns its exit code; output goes to `log_path` if given.
int Shell(const std::string& command);
//! Reads a whole file.
std::string ReadFile(const std::string& path);
//! A fresh temporary directory, removed with its contents when the test process exits (not with
//! VIGIL_KEEP_TEST_DIRS=1).
std::string TempDir(const std::string& prefix);
//! An HTTP exchange through curl `args` (files in `dir`): the status code (-1 if curl failed), and
//! the body in `body`.
int Curl(const std::string& dir, const std::string& args, std::string* body);
//! The port of a `vigil run` HTTP server, from its log line "http server on 127.0.0.1:PORT", waiting
//! up to 30 s for it; -1 if it never appears.
int LoggedHttpPort(const std::string& log_path);
//! Replaces every occurrence of `from` in `s` with `to` (e.g. topic names in an example pipeline).
void ReplaceAll(std::string* s, const std::string& from, const std::string& to);

//! Runs the vigil binary with `args` until it exits (at most `limit`); returns its exit code and fills
//! `output` with its stdout and stderr.
int RunVigil(const std::vector<std::string>& args, std::string* output,
             std::chrono::seconds limit = std::chrono::seconds(300));

//! Polls `done` every 200 ms until it holds (true) or `timeout` passes (false).
template <typename Done>
bool WaitFor(std::chrono::milliseconds timeout, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

//! A test's wall time shared by its waits: each gets what is left (at least 1 s), so on a slow machine
//! the test fails with its own messages before ctest's per-test timeout (300 s) kills it silently.
class TimeBudget {
 public:
  explicit TimeBudget(std::chrono::seconds total) : deadline_(std::chrono::steady_clock::now() + total) {}
  std::chrono::seconds Left() const {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(deadline_ - std::chrono::steady_clock::now());
    return std::max(left, std::chrono::seconds(1));
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace vigil::testing
