#pragma once
// A Kafka broker of one test's own, for tests that restart the broker: the shared test broker
// (VIGIL_TEST_BOOTSTRAP) serves other tests and developers at the same time, and `scripts/kafka
// restart` empties its storage, so neither may be used to restart a broker mid-run.
//
// PrivateBroker::Start runs `scripts/kafka start` on a free port with a temporary state directory and
// points VIGIL_TEST_BOOTSTRAP (hence Bootstrap() and every kafka_env.h helper) at it until it is
// destroyed. Restart stops the JVM with a signal and starts the same command line again on the same
// data, as an operator's restart of a broker does. The destructor runs `scripts/kafka stop`, which
// deletes the state, and restores VIGIL_TEST_BOOTSTRAP.
//
// Every call reports through Catch2: call them from a TEST_CASE, on its thread. A broker takes a few
// seconds to start (a JVM with -Xmx512m).

#include <memory>
#include <string>

namespace vigil::testing {

//! A single-node KRaft broker of this test. Not copyable.
class PrivateBroker {
 public:
  //! Starts the broker on a free 127.0.0.1 port. Fails the test if it does not answer in 90 s.
  static std::unique_ptr<PrivateBroker> Start();
  //! Stops the broker and deletes its state; restores VIGIL_TEST_BOOTSTRAP.
  ~PrivateBroker();
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  //! Sends `signal` to the broker (SIGTERM: a controlled shutdown; SIGKILL: a crash), waits until it
  //! is gone, starts it again with the same configuration and data, and returns once it answers
  //! metadata requests. Fails the test if it does not stop in 60 s or answer in 90 s.
  void Restart(int signal);

  //! "127.0.0.1:PORT".
  std::string bootstrap() const;
  //! The broker's log (server.log) so far, or its last `max_chars` characters.
  std::string Log(size_t max_chars = 4000) const;

 private:
  PrivateBroker(int port, std::string state_dir, std::string previous_bootstrap, bool had_previous)
      : port_(port),
        state_dir_(std::move(state_dir)),
        previous_bootstrap_(std::move(previous_bootstrap)),
        had_previous_(had_previous) {}
  //! `VIGIL_KAFKA_PORT=... VIGIL_KAFKA_STATE_DIR=... scripts/kafka ARGS`.
  std::string Script(const std::string& args) const;
  bool Answers() const;

  int port_;
  std::string state_dir_;
  std::string previous_bootstrap_;
  bool had_previous_;
};

}  // namespace vigil::testing
