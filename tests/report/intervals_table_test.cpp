// The bootstrap intervals of a set's metrics as a report table: in `mbmd eval --bootstrap`'s
// order, with "n/a" where a value or its interval is undefined.
#include <gtest/gtest.h>

#include "mbmd/report/report.h"

namespace mbmd::engine {
namespace {

TEST(IntervalsTable, RowsInEvalOrderWithTheirIntervals) {
  const Json bootstrap = {{"resamples", 1000},
                          {"level", 0.9},
                          {"metrics",
                           {{"cpm", {{"value", 0.3}, {"low", 0.2}, {"high", 0.4}}},
                            {"ap20", {{"value", 0.12}, {"low", 0.07}, {"high", 0.22}}},
                            {"tpr", {{"value", nullptr}, {"low", nullptr}, {"high", nullptr}}}}}};
  const ReportTable table = intervals_table("Pooled", bootstrap);
  EXPECT_EQ(table.title, "Pooled");
  EXPECT_EQ(table.header, (std::vector<std::string>{"metric", "value", "90% CI"}));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"AP@20", "0.1200", "[0.0700, 0.2200]"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"TPR", "n/a", "n/a"}));
  EXPECT_EQ(table.rows[2][0], "CPM");
  EXPECT_TRUE(intervals_table("empty", Json::object()).rows.empty());
}

}  // namespace
}  // namespace mbmd::engine
