// Delimited text tables, as the datasets ship them (the BCS-DBT CSVs, INbreast.csv with ';').
#pragma once

#include <string>
#include <vector>

#include "mbmd/data/dataset.h"

namespace mbmd::data {

// A delimited text table: quoted fields as RFC 4180, a UTF-8 byte-order mark and CR line ends
// tolerated, blank lines skipped.
struct CsvTable {
  std::string file;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
  std::vector<int> lines;                      // line number of each row
  // Index of a column; throws mbmd::Error naming the file and the column when it is absent.
  size_t column(const std::string& name) const;
  // "file:line" of row `r`, as errors name a row.
  std::string where(size_t r) const;
};

// Reads a table and checks that every column in `required` is there (mbmd::Error naming the file
// and the first missing column otherwise). A row with a different number of fields than the
// header is an error naming file and line.
CsvTable read_csv(const std::string& path, char delimiter,
                  const std::vector<std::string>& required = {});

// Calls `read_row(r, where)` for each row `r` of `table` (`where` is its "file:line"); an
// mbmd::Error skips the row under `skip_bad` (listed in `skipped`) and is thrown otherwise.
template <typename ReadRow>
void for_each_row(const CsvTable& table, bool skip_bad, std::vector<SkippedItem>& skipped,
                  ReadRow&& read_row) {
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string where = table.where(r);
    run_or_skip(skip_bad, where, skipped, [&] { read_row(r, where); });
  }
}

}  // namespace mbmd::data
