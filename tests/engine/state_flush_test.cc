// A crash loses a store's memtable (the stores write no WAL): what survives is the last flush, with
// its checkpoint and changelog offset, so a restart replays the changelog from there. A flush every
// `flush_changes` changes bounds that tail. The crash is real: a child process (this test binary,
// running the hidden writer below) applies the commits, waits for its background flushes and leaves
// with _exit, skipping the store's close.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <random>
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

// A clean close flushes the memtable to level 0: for a store whose keys were all rewritten since the
// last compaction, a second copy of them. The close merges level 0 down when it is a quarter or more
// of the store, and only then, so the work stays a few times what level 0 holds.
uint64_t TableBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".sst") bytes += entry.file_size();
  return bytes;
}

void WriteValues(const std::string& dir, int first, int count, unsigned seed) {
  auto store = engine::StateStore::Open(engine::StateStoreOptions{dir});
  REQUIRE(store.ok());
  std::mt19937 random(seed);
  std::string value(200, '\0');
  for (int i = first; i < first + count; ++i) {
    for (char& c : value) c = static_cast<char>(random());  // incompressible: the bytes are the data's
    value[0] = static_cast<char>(seed);
    (*store)->Put(kTable, "key" + std::to_string(i), value);
  }
  (*store)->Prepare(seed, -1);
  REQUIRE((*store)->Apply(-1).ok());
  REQUIRE((*store)->Close().ok());
}

TEST_CASE("a clean close leaves a rewritten store compacted, and a little-changed one as it is",
          "[engine][unit]") {
  const std::string dir = TempDir("vigil-close") + "/store";
  constexpr int kKeys = 20'000;
  WriteValues(dir, 0, kKeys, 1);
  const uint64_t once = TableBytes(dir);
  REQUIRE(once > kKeys * 200);

  SECTION("every key rewritten: level 0 is half the store, merged at the close") {
    WriteValues(dir, 0, kKeys, 2);
    CHECK(TableBytes(dir) < once * 5 / 4);  // without the merge: about twice `once`
    auto store = engine::StateStore::Open(engine::StateStoreOptions{dir});
    REQUIRE(store.ok());
    std::string value;
    REQUIRE(*(*store)->Get(kTable, "key0", &value));
    CHECK(value[0] == 2);  // the newer version survives the merge
    REQUIRE(*(*store)->Get(kTable, "key" + std::to_string(kKeys - 1), &value));
    CHECK(value[0] == 2);
  }

  SECTION("a tenth rewritten: level 0 is left for the background compactions") {
    WriteValues(dir, 0, kKeys / 10, 3);
    CHECK(TableBytes(dir) > once + once / 20);  // both versions of the tenth are still on disk
  }
}

}  // namespace
}  // namespace vigil::testing
