#include "sim/writer.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "sim/civil_time.h"

namespace vigil::sim {
namespace {

Transaction Sample() {
  Transaction tx;
  tx.transaction_id = 42;
  tx.tx_time_ms = 1522540831000;  // 2018-04-01T00:00:31Z
  tx.customer_id = 596;
  tx.terminal_id = 3156;
  tx.amount = 57.1;
  tx.is_fraud = 1;
  tx.fraud_scenario = FraudScenario::kCompromisedCard;
  return tx;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("Dates parse to UTC midnight and timestamps format as ISO-8601", "[sim][writer]") {
  CHECK(ParseDateMs("2018-04-01").value() == 1522540800000);
  CHECK(ParseDateMs("1970-01-01").value() == 0);
  CHECK_FALSE(ParseDateMs("2018-13-01").ok());
  CHECK_FALSE(ParseDateMs("2018-4-1").ok());
  CHECK(IsoUtc(1522540831000) == "2018-04-01T00:00:31Z");
  CHECK(IsoUtc(1522540831250) == "2018-04-01T00:00:31.250Z");
  CHECK(IsoUtc(1533772799000) == "2018-08-08T23:59:59Z");
  CHECK(IsoUtc(-1000) == "1969-12-31T23:59:59Z");
}

TEST_CASE("Records render as JSON and CSV with the Handbook's field names", "[sim][writer]") {
  std::string json;
  AppendTransactionJson(Sample(), json);
  CHECK(json ==
        "{\"TRANSACTION_ID\":42,\"TX_DATETIME\":\"2018-04-01T00:00:31Z\",\"TX_TIME_MS\":1522540831000,"
        "\"CUSTOMER_ID\":596,\"TERMINAL_ID\":3156,\"TX_AMOUNT\":57.10,\"TX_FRAUD\":1,\"TX_FRAUD_SCENARIO\":3}"
        "\n");
  std::string csv;
  AppendTransactionCsv(Sample(), csv);
  CHECK(csv == "42,2018-04-01T00:00:31Z,1522540831000,596,3156,57.10,1,3\n");
  const Label label = MakeLabel(Sample(), 7 * kMsPerDay);
  std::string label_json;
  AppendLabelJson(label, label_json);
  CHECK(label_json == "{\"TRANSACTION_ID\":42,\"TX_FRAUD\":1,\"LABEL_TIME_MS\":1523145631000}\n");
  std::string label_csv;
  AppendLabelCsv(label, label_csv);
  CHECK(label_csv == "42,1,1523145631000\n");
}

TEST_CASE("Formats follow the file extension", "[sim][writer]") {
  CHECK(OutputFormatFromPath("/tmp/a.jsonl").value() == OutputFormat::kJsonl);
  CHECK(OutputFormatFromPath("a.csv").value() == OutputFormat::kCsv);
  CHECK(OutputFormatFromPath("a.parquet").status().code() == base::StatusCode::kInvalidArgument);
}

TEST_CASE("Writers produce files with a CSV header and one line per record", "[sim][writer]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vigil_writer_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<Transaction> txs(3, Sample());

  auto csv = RecordWriter::OpenTransactions((dir / "tx.csv").string(), OutputFormat::kCsv);
  REQUIRE(csv.ok());
  REQUIRE((*csv)->Write(std::span<const Transaction>(txs)).ok());
  const std::vector<Label> labels = {MakeLabel(Sample(), 1)};
  CHECK((*csv)->Write(std::span<const Label>(labels)).code() == base::StatusCode::kFailedPrecondition);
  REQUIRE((*csv)->Close().ok());
  REQUIRE((*csv)->Close().ok());
  CHECK((*csv)->records() == 3);
  const std::string text = ReadFile(dir / "tx.csv");
  CHECK(text.rfind(std::string(TransactionCsvHeader()), 0) == 0);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);

  auto jsonl = RecordWriter::OpenLabels((dir / "labels.jsonl").string(), OutputFormat::kJsonl);
  REQUIRE(jsonl.ok());
  REQUIRE((*jsonl)->Write(std::span<const Label>(labels)).ok());
  REQUIRE((*jsonl)->Close().ok());
  CHECK(ReadFile(dir / "labels.jsonl") ==
        "{\"TRANSACTION_ID\":42,\"TX_FRAUD\":1,\"LABEL_TIME_MS\":1522540831001}\n");

  CHECK(RecordWriter::OpenLabels((dir / "no/such/dir.csv").string(), OutputFormat::kCsv).status().code() ==
        base::StatusCode::kIoError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::sim
