#include "operators/derive.h"

#include <cmath>
#include <limits>
#include <map>

#include "base/time.h"

namespace vigil::operators {
namespace {

enum class Fn { kHourOfDay, kDayOfWeek, kIsWeekend, kAdd, kSub, kMul, kDiv, kLt, kLe, kGt, kGe, kEq };

struct FnInfo {
  Fn fn;
  int arity;
};

const std::map<std::string, FnInfo>& Functions() {
  static const std::map<std::string, FnInfo> kFns = {
      {"hour_of_day", {Fn::kHourOfDay, 1}}, {"day_of_week", {Fn::kDayOfWeek, 1}}, {"is_weekend", {Fn::kIsWeekend, 1}},
      {"add", {Fn::kAdd, 2}}, {"sub", {Fn::kSub, 2}}, {"mul", {Fn::kMul, 2}}, {"div", {Fn::kDiv, 2}},
      {"lt", {Fn::kLt, 2}}, {"le", {Fn::kLe, 2}}, {"gt", {Fn::kGt, 2}}, {"ge", {Fn::kGe, 2}}, {"eq", {Fn::kEq, 2}}};
  return kFns;
}

//! A bound operand: a column index, or -1 with a constant.
struct Arg {
  int column = -1;
  double constant = 0;
  double Get(const engine::Batch& b, size_t row) const { return column < 0 ? constant : b.AsDouble(row, column); }
};

struct Output {
  int column;
  Fn fn;
  Arg a, b;
};

double Apply(Fn fn, double a, double b) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  // Any number column may reach a calendar function; far outside event times it has no answer.
  const bool calendar = fn == Fn::kHourOfDay || fn == Fn::kDayOfWeek || fn == Fn::kIsWeekend;
  if (calendar && !(std::abs(a) <= static_cast<double>(base::kMaxAbsTimeMs))) return kNaN;
  switch (fn) {
    case Fn::kHourOfDay: return base::HourOfDay(static_cast<int64_t>(a));
    case Fn::kDayOfWeek: return base::DayOfWeek(static_cast<int64_t>(a));
    case Fn::kIsWeekend: return base::DayOfWeek(static_cast<int64_t>(a)) >= 5 ? 1 : 0;
    case Fn::kAdd: return a + b;
    case Fn::kSub: return a - b;
    case Fn::kMul: return a * b;
    case Fn::kDiv: return b == 0 ? kNaN : a / b;
    case Fn::kLt: return a < b;
    case Fn::kLe: return a <= b;
    case Fn::kGt: return a > b;
    case Fn::kGe: return a >= b;
    case Fn::kEq: return a == b;
  }
  return kNaN;
}

class DeriveOperator final : public engine::Operator {
 public:
  DeriveOperator(std::string name, std::vector<Output> outputs) : Operator(std::move(name)), outputs_(std::move(outputs)) {}

  base::Status Process(engine::Batch& batch, engine::OperatorState*) const override {
    for (const Output& o : outputs_) {
      for (size_t row = 0; row < batch.size(); ++row) {
        if (!batch.live(row)) continue;
        batch.f64(row, o.column) = Apply(o.fn, o.a.Get(batch, row), o.b.Get(batch, row));
      }
    }
    return base::Status::OK();
  }

 private:
  std::vector<Output> outputs_;
};

}  // namespace

base::Result<std::unique_ptr<engine::Operator>> MakeDerive(engine::BindContext& ctx) {
  const auto& spec = std::get<config::DeriveSpec>(ctx.spec.params);
  std::vector<Output> outputs;
  for (const auto& o : spec.outputs) {
    auto it = Functions().find(o.fn);
    if (it == Functions().end()) {
      std::string known;
      for (const auto& [name, info] : Functions()) known += (known.empty() ? "" : ", ") + name;
      return config::ConfigError(o.loc, "unknown function '" + o.fn + "'; expected one of: " + known);
    }
    if (static_cast<int>(o.args.size()) != it->second.arity)
      return config::ConfigError(o.loc, o.fn + " takes " + std::to_string(it->second.arity) + " argument(s), got " +
                                            std::to_string(o.args.size()));
    Output out{-1, it->second.fn, {}, {}};
    Arg* args[2] = {&out.a, &out.b};
    for (size_t i = 0; i < o.args.size(); ++i) {
      if (o.args[i].field) {
        args[i]->column = ctx.schema.Find(*o.args[i].field);
        if (args[i]->column < 0) return config::ConfigError(o.loc, "unknown column '" + *o.args[i].field + "'");
        if (ctx.schema.column(args[i]->column).type == config::FieldType::kString)
          return config::ConfigError(o.loc, "column '" + *o.args[i].field + "' is a string; " + o.fn + " needs numbers");
      } else {
        args[i]->constant = o.args[i].constant;
      }
    }
    auto column = ctx.schema.Add(o.name, config::FieldType::kDouble);
    if (!column.ok()) return config::ConfigError(o.loc, column.status().message());
    out.column = *column;
    outputs.push_back(out);
  }
  return std::unique_ptr<engine::Operator>(std::make_unique<DeriveOperator>(ctx.spec.name, std::move(outputs)));
}

}  // namespace vigil::operators
