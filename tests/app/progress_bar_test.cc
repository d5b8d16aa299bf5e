// The progress line of simulate, replay and train.
#include "app/progress_bar.h"

#include <catch2/catch.hpp>

namespace vigil::testing {
namespace {

TEST_CASE("the progress line shows the share done as a bar and a percentage, then the detail", "[app]") {
  CHECK(app::ProgressBar::Line("train", 0.45, "45/100 rounds") ==
        "train [##################                      ]  45.0% 45/100 rounds");
  CHECK(app::ProgressBar::Line("replay", 1.0, "") ==
        "replay [########################################] 100.0%");
  CHECK(app::ProgressBar::Line("replay", 1.7, "") ==
        "replay [########################################] 100.0%");
  // Unknown total (a Kafka range): no bar, only the detail.
  CHECK(app::ProgressBar::Line("replay", -1, "1200 events, 300/s") == "replay 1200 events, 300/s");
}

}  // namespace
}  // namespace vigil::testing
