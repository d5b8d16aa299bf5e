// A crash loses a store's memtable (the stores write no WAL): what survives is the last flush, with
// its checkpoint and changelog offset, so a restart replays the changelog from there. A flush every
// `flush_changes` changes bounds that tail. The crash is real: a child process (this test binary,
// running the hidden writer below) applies the commits, waits for its background flushes and leaves
// with _exit, skipping the store's close.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/state_store.h"
#include "tests/support/process.h"

namespace vigil::testing {
namespace {

constexpr engine::TableId kTable = 1;
constexpr int kCommits = 10, kChangesPerCommit = 100;

std::string Key(int commit, int i) { return std::to_string(commit) + "/" + std::to_string(i); }

//! Runs the writer in a child process: kCommits commits of kChangesPerCommit changes each, commit c
//! recording checkpoint c and changelog offset (c + 1) * 100, with `flush_changes`; then a crash.
void CrashAfterCommits(const std::string& dir, size_t flush_changes) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string command = "VIGIL_FLUSH_DIR='" + dir +
                              "' VIGIL_FLUSH_CHANGES=" + std::to_string(flush_changes) + " '" + self +
                              "' 'a store crashes after its commits (writer)' > '" + dir + ".log' 2>&1";
  INFO(ReadFile(dir + ".log"));
  REQUIRE(Shell(command) == 0);
}

TEST_CASE("a store crashes after its commits (writer)", "[.]") {
  const char* dir = std::getenv("VIGIL_FLUSH_DIR");
  const char* flush = std::getenv("VIGIL_FLUSH_CHANGES");
  REQUIRE(dir != nullptr);
  REQUIRE(flush != nullptr);
  engine::StateStoreOptions options{dir};
  options.flush_changes = std::stoul(flush);
  auto store = engine::StateStore::Open(options);
  REQUIRE(store.ok());
  for (int c = 0; c < kCommits; ++c) {
    for (int i = 0; i < kChangesPerCommit; ++i) (*store)->Put(kTable, Key(c, i), "value");
    (*store)->Prepare(c, -1);
    REQUIRE((*store)->Apply((c + 1) * kChangesPerCommit).ok());
  }
  REQUIRE(WaitFor(std::chrono::seconds(60), [&] { return !(*store)->FlushPending(); }));
  ::_exit(0);  // a crash: no close, no flush of the memtable
}

TEST_CASE("a crash loses only the changes since the last flush, which flush_changes bounds",
          "[engine][unit]") {
  const std::string root = TempDir("vigil-flush");

  SECTION("a flush every 300 changes: the store comes back at the 9th commit") {
    const std::string dir = root + "/store";
    CrashAfterCommits(dir, 300);  // flushes after commits 3, 6 and 9 (300, 600, 900 changes)
    auto store = engine::StateStore::Open(engine::StateStoreOptions{dir});
    REQUIRE(store.ok());
    CHECK((*store)->changelog_offset() == 9 * kChangesPerCommit);
    CHECK((*store)->checkpoint_offset() == 8);
    std::string value;
    CHECK(*(*store)->Get(kTable, Key(8, 99), &value));
    CHECK_FALSE(*(*store)->Get(kTable, Key(9, 0), &value));  // the 10th commit, after the last flush
  }

  SECTION("without a flush, nothing survives the crash: the restore starts from the beginning") {
    const std::string dir = root + "/unflushed";
    CrashAfterCommits(dir, 1'000'000);
    auto store = engine::StateStore::Open(engine::StateStoreOptions{dir});
    REQUIRE(store.ok());
    CHECK((*store)->changelog_offset() == -1);
    CHECK((*store)->checkpoint_offset() == -1);
    CHECK((*store)->empty());
  }
}

}  // namespace
}  // namespace vigil::testing
