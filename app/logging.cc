#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "base/json.h"

namespace vigil::app {
namespace {

//! `%*`: the message as a JSON string literal.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    escaped_.clear();
    base::AppendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), &escaped_);
    dest.append(escaped_.data(), escaped_.data() + escaped_.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }

 private:
  std::string escaped_;
};

}  // namespace

base::Status ConfigureLogging(std::string_view level, std::string_view format) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for any word it does not know.
  if (parsed == spdlog::level::off && level != "off")
    return base::InvalidArgument("--log-level '" + std::string(level) +
                                 "': expected trace, debug, info, warn, error or off");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (format == "text") {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  } else if (format == "json") {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":%*})");
  } else {
    return base::InvalidArgument("--log-format '" + std::string(format) + "': expected text or json");
  }
  spdlog::set_level(parsed);
  spdlog::set_formatter(std::move(formatter));
  return base::Status::OK();
}

}  // namespace vigil::app
