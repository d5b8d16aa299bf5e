// FeatureLogTail: the newest event time of a growing feature log, read incrementally.
#include "lifecycle/retrainer.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/process.h"

namespace vigil::lifecycle {
namespace {

void Append(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::app) << text; }

TEST_CASE("FeatureLogTail follows a growing log: newest time and complete lines and row counts", "[app]") {
  const std::string path = testing::TempDir("vigil-tail") + "/features.csv";
  FeatureLogTail tail(path);
  REQUIRE(tail.Poll().ok());  // no file yet
  CHECK_FALSE(tail.newest_ms().has_value());

  Append(path, "TRANSACTION_ID,TX_TIME_MS,CUSTOMER_ID,F1,SCORE,MODEL_VERSION,LABEL\n");
  Append(path, "1,1000,7,0.5,0.1,v1,0\n2,3000,8,0.5,0.1,v1,1\n3,2000,9,0.5,0.1,v1,0\n4,40");
  auto rows = tail.Poll();
  REQUIRE(rows.ok());
  CHECK(*rows == 3);
  CHECK(tail.newest_ms() == 3000);  // the newest, not the last
  CHECK(tail.oldest_ms() == 1000);
  const uint64_t offset = tail.offset();
  CHECK(static_cast<std::streamoff>(offset) <
        std::ifstream(path, std::ios::ate).tellg());  // the half-written row is left for later

  Append(path, "00,7,0.5,0.1,v1,0\n5,x,7,0.5,0.1,v1,0\n");
  rows = tail.Poll();
  REQUIRE(rows.ok());
  CHECK(*rows == 2);
  CHECK(tail.bad_rows() == 1);
  CHECK(tail.newest_ms() == 4000);
  CHECK(tail.rows() == 5);
  CHECK(tail.offset() == static_cast<uint64_t>(std::ifstream(path, std::ios::ate).tellg()));
  CHECK(*tail.Poll() == 0);  // nothing new

  CHECK(tail.CountRows(1000, 3000) == 2);
  CHECK(tail.CountRows(0, 10'000) == 4);
  tail.ForgetBefore(2500);
  CHECK(tail.CountRows(0, 10'000) == 2);

  // A replaced (shorter) file is read again from its start.
  std::ofstream(path, std::ios::trunc) << "TRANSACTION_ID,TX_TIME_MS\n9,500\n";
  rows = tail.Poll();
  REQUIRE(rows.ok());
  CHECK(*rows == 1);
  CHECK(tail.newest_ms() == 500);
}

TEST_CASE("FeatureLogTail copies one window of the log, from its first row on", "[app]") {
  const std::string dir = testing::TempDir("vigil-tail");
  const std::string path = dir + "/features.csv";
  std::string log = "TRANSACTION_ID,TX_TIME_MS,F1\n";
  for (int day = 0; day < 100; ++day)  // a day's rows, the last one a little out of order
    log += std::to_string(2 * day) + "," + std::to_string(day * 1000 + 10) + ",0.5\n" +
           std::to_string(2 * day + 1) + "," + std::to_string(day * 1000) + ",0.25\n";
  std::ofstream(path) << log << "200,99999,0.5";  // a row still being written
  FeatureLogTail tail(path);
  REQUIRE(tail.Poll().ok());
  REQUIRE(tail.rows() == 200);
  tail.ForgetBefore(90'000);  // the history before day 90 is forgotten: never read again
  {  // day 10's first row, rewritten in place with a time inside the window: not read, not copied
    std::fstream f(path, std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(log.find("\n20,10010,0.5\n") + 1));
    f << "20,95500,0.5";
  }
  REQUIRE(tail.CopyWindow(dir + "/window.csv", 95'000, 97'000).ok());
  CHECK(testing::ReadFile(dir + "/window.csv") ==
        "TRANSACTION_ID,TX_TIME_MS,F1\n190,95010,0.5\n191,95000,0.25\n192,96010,0.5\n193,96000,0.25\n");
  REQUIRE(tail.CopyWindow(dir + "/empty.csv", 200'000, 300'000).ok());
  CHECK(testing::ReadFile(dir + "/empty.csv") == "TRANSACTION_ID,TX_TIME_MS,F1\n");
}

TEST_CASE("FeatureLogTail refuses a log without the time column", "[app]") {
  const std::string path = testing::TempDir("vigil-tail") + "/other.csv";
  std::ofstream(path) << "A,B\n1,2\n";
  FeatureLogTail tail(path);
  auto rows = tail.Poll();
  REQUIRE_FALSE(rows.ok());
  CHECK_THAT(rows.status().message(), Catch::Contains("no column TX_TIME_MS"));
}

}  // namespace
}  // namespace vigil::lifecycle
