#include "mbmd/data/csv.h"

#include <fstream>
#include <sstream>

#include "mbmd/core/error.h"
#include "mbmd/core/strings.h"

namespace mbmd::data {
namespace {

// One line of the table (more than one when a quoted field holds line breaks).
struct CsvRecord {
  std::vector<std::string> fields;
  int line = 1;        // where it starts
  bool blank = false;  // nothing but white space: no delimiter, no quotes
};

// The file's text without a UTF-8 byte-order mark.
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the CSV file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  return text;
}

// Cuts the text into records at line breaks outside quotes and hands each to `take(record)` in
// order; "" inside quotes is one quote, a quote opens a field only where the field holds nothing
// but white space so far, CRs are dropped.
template <typename Take>
void split_records(const std::string& text, char delimiter, const std::string& path, Take&& take) {
  CsvRecord record;
  std::string field;
  bool quoted = false, any = false;
  int line = 1;
  auto end_record = [&] {
    record.fields.push_back(field);
    record.blank = record.fields.size() == 1 && trim(record.fields[0]).empty() && !any;
    take(record);
    record = CsvRecord{};
    record.line = line;
    field.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && trim(field).empty()) {
      quoted = true;
      any = true;
      field.clear();
    } else if (c == delimiter) {
      record.fields.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n') {
      ++line;
      end_record();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (quoted) throw Error(path + ":" + std::to_string(record.line) + ": unterminated quoted field");
  if (!field.empty() || !record.fields.empty()) end_record();
}

// The first non-blank record is the header; the others are rows as long as it.
void add_record(CsvTable& table, CsvRecord& record) {
  if (record.blank) return;
  std::vector<std::string>& fields = record.fields;
  if (table.header.empty()) {
    for (const auto& h : fields) table.header.push_back(trim(h));
    return;
  }
  // Trailing empty fields (a delimiter at the end of the line) do not count.
  while (fields.size() > table.header.size() && trim(fields.back()).empty()) fields.pop_back();
  if (fields.size() != table.header.size())
    throw Error(table.file + ":" + std::to_string(record.line) + ": " +
                std::to_string(fields.size()) + " fields, the header has " +
                std::to_string(table.header.size()));
  table.rows.push_back(std::move(fields));
  table.lines.push_back(record.line);
}

}  // namespace

size_t CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  throw Error(file + ": column '" + name + "' is missing (columns: " + join(header, ", ") + ")");
}

std::string CsvTable::where(size_t r) const { return file + ":" + std::to_string(lines.at(r)); }

CsvTable read_csv(const std::string& path, char delimiter,
                  const std::vector<std::string>& required) {
  CsvTable table;
  table.file = path;
  split_records(read_text(path), delimiter, path,
                [&](CsvRecord& record) { add_record(table, record); });
  if (table.header.empty()) throw Error(path + ": empty CSV file (no header)");
  for (const auto& name : required) table.column(name);
  return table;
}

}  // namespace mbmd::data
