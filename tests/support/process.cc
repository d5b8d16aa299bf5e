#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string_view>
#include <thread>

namespace vigil::testing {

std::string VigilBinary() { return VIGIL_BINARY; }

Child::Child(const std::vector<std::string>& argv, const std::string& log_path) : log_path_(log_path) {
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Child::Signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int Child::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) {
        // An error exit says why in its log, which the test's directory may not outlive: show its end.
        if (WEXITSTATUS(status) != 0) {
          const std::string log = ReadFile(log_path_);
          const size_t from = log.size() > 4000 ? log.size() - 4000 : 0;
          std::cerr << "child " << pid_ << " exited " << WEXITSTATUS(status) << "; the end of " << log_path_
                    << ":\n"
                    << log.substr(from) << "\n";
        }
        return WEXITSTATUS(status);
      }
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Shell(const std::string& command) {
  const int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

//! The directories TempDir made, removed when the test process exits normally (a forked child that
//! exits removes nothing: the directories are its parent's). VIGIL_KEEP_TEST_DIRS=1 keeps them.
class TempDirs {
 public:
  void Add(std::string dir) {
    std::lock_guard lock(mu_);
    dirs_.push_back(std::move(dir));
  }
  ~TempDirs() {
    const char* keep = std::getenv("VIGIL_KEEP_TEST_DIRS");
    if (::getpid() != owner_ || (keep != nullptr && std::string_view(keep) == "1")) return;
    for (const std::string& dir : dirs_) {
      std::error_code ignored;  // a file still open by a child process is not the test's failure
      std::filesystem::remove_all(dir, ignored);
    }
  }

 private:
  const pid_t owner_ = ::getpid();
  std::mutex mu_;
  std::vector<std::string> dirs_;
};

}  // namespace

std::string TempDir(const std::string& prefix) {
  static TempDirs made;
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* dir = mkdtemp(tmpl.data());
  if (dir == nullptr) return std::string();
  made.Add(dir);
  return dir;
}

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t pos = s->find(from); pos != std::string::npos; pos = s->find(from, pos + to.size()))
    s->replace(pos, from.size(), to);
}

int Curl(const std::string& dir, const std::string& args, std::string* body) {
  const std::string out = dir + "/curl.out";
  if (Shell("curl -s -o " + out + " -w '%{http_code}' " + args + " > " + dir + "/curl.code") != 0) return -1;
  *body = ReadFile(out);
  return std::stoi(ReadFile(dir + "/curl.code"));
}

int LoggedHttpPort(const std::string& log_path) {
  const std::regex re("http server on 127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 300; ++i) {
    std::smatch m;
    const std::string text = ReadFile(log_path);
    if (std::regex_search(text, m, re)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

int RunVigil(const std::vector<std::string>& args, std::string* output, std::chrono::seconds limit) {
  const std::string log = TempDir("vigil-cli") + "/out.log";
  std::vector<std::string> argv = {VigilBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  Child child(argv, log);
  const int rc = child.Wait(limit);
  *output = ReadFile(log);
  return rc;
}

}  // namespace vigil::testing
