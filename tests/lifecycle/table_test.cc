// The training table reader (lifecycle/table.h) and the model hash of the trainer (lifecycle/train_data.h).
#include "lifecycle/table.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "lifecycle/train_data.h"
#include "tests/support/process.h"

namespace vigil::lifecycle {
namespace {

using testing::TempDir;

TEST_CASE("Table reads numeric CSV columns by name", "[lifecycle]") {
  const std::string path = TempDir("vigil-table") + "/t.csv";
  std::ofstream(path) << "ID,X,LABEL\r\n1,0.5,0\n2,,1\n3,1e3,1\n";
  TableReadOptions read;
  read.int64_columns = {"ID", "LABEL"};
  auto table = Table::ReadCsv(path, read);
  REQUIRE(table.ok());
  CHECK(table->num_rows() == 3);
  CHECK(table->header() == std::vector<std::string>{"ID", "X", "LABEL"});
  const auto x = table->Doubles("X");
  REQUIRE(x.ok());
  CHECK((*x)[0] == 0.5);
  CHECK(std::isnan((*x)[1]));
  CHECK((*x)[2] == 1000.0);
  CHECK((*table->Int64s("ID"))[2] == 3);
  CHECK(!table->Doubles("ID").ok());

  std::ofstream(path) << "ID,X\n1,abc\n";
  auto bad = Table::ReadCsv(path);
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find(":2: column X is not a number: 'abc'") != std::string::npos);
  std::ofstream(path) << "ID,X\n1\n";
  CHECK(Table::ReadCsv(path).status().message().find(":2: 1 cells, the header has 2") != std::string::npos);
  read.int64_columns = {"NOPE"};
  CHECK(Table::ReadCsv(path, read).status().code() == base::StatusCode::kNotFound);
  CHECK(Table::ReadCsv(path + ".missing").status().code() == base::StatusCode::kNotFound);
}

TEST_CASE("Table reads text columns, JSON-quoted cells unquoted and their commas kept", "[lifecycle]") {
  const std::string path = TempDir("vigil-table") + "/t.csv";
  // As vigil replay writes string fields: JSON-quoted, escapes and all.
  std::ofstream(path) << "ID,CHANNEL,X,NIGHT\n1,\"web, mobile\",0.5,1\n2,\"pos \\\"A\\\"\",1.5,0\n3,,2,1\n";
  TableReadOptions read;
  read.int64_columns = {"ID"};
  read.double_columns = {"X"};
  read.text_columns = {"CHANNEL", "NIGHT"};
  auto table = Table::ReadCsv(path, read);
  INFO(table.status().message());
  REQUIRE(table.ok());
  REQUIRE(table->num_rows() == 3);
  const auto channel = table->Texts("CHANNEL");
  REQUIRE(channel.ok());
  CHECK(std::vector<std::string>(channel->begin(), channel->end()) ==
        std::vector<std::string>{"web, mobile", "pos \"A\"", ""});
  CHECK((*table->Texts("NIGHT"))[1] == "0");
  CHECK((*table->Doubles("X"))[2] == 2.0);
  CHECK(!table->Doubles("CHANNEL").ok());
  CHECK(!table->Texts("X").ok());
  // A quoted cell is text only: as a number it is refused, naming it.
  read.text_columns = {"NIGHT"};
  read.double_columns = {"X", "CHANNEL"};
  CHECK(Table::ReadCsv(path, read).status().message().find(":2: column CHANNEL is not a number") !=
        std::string::npos);
}

TEST_CASE("Sha256Hex matches the FIPS 180-2 test vectors", "[lifecycle]") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex(std::string(1000, 'a')).size() == 64);
}

}  // namespace
}  // namespace vigil::lifecycle
