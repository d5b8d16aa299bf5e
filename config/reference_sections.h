#pragma once
// Internal to config/: the parts reference.cc assembles into Reference(), and how they show defaults.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/reference.h"

namespace vigil::config {

//! A default as the reference shows it: the value in backticks; an empty string is "none".
std::string DocString(std::string_view value);
std::string DocInt(int64_t value);
std::string DocNumber(double value);
std::string DocBool(bool value);
//! A duration in ms, written as files write it ("`7d`", "`250ms`").
std::string DocDuration(int64_t ms);

//! The sections of the file outside `operators`, in reference order (reference_file.cc).
std::vector<SectionDoc> FileSections();
//! The sections of `operators` entries, in reference order (reference_operators.cc).
std::vector<SectionDoc> OperatorSections();
//! `train` and its subsections, in reference order (reference_train.cc).
std::vector<SectionDoc> TrainSections();

}  // namespace vigil::config
