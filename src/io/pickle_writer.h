// The pickle writer behind save_checkpoint (checkpoint_save.cpp), private to src/io: it emits the
// opcodes of protocol 2 that Python's pickle module reads, one call per opcode or value.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace mbmd::io::detail {

class PickleWriter {
 public:
  PickleWriter();  // writes PROTO 2
  std::string& bytes() { return out_; }

  void op(uint8_t code) { out_.push_back(static_cast<char>(code)); }
  void mark() { op('('); }
  void tuple() { op('t'); }
  void empty_tuple() { op(')'); }
  void empty_dict() { op('}'); }
  void set_items() { op('u'); }
  void reduce() { op('R'); }
  void binpersid() { op('Q'); }
  void boolean(bool b) { op(b ? 0x88 : 0x89); }
  void stop() { op('.'); }

  void text(const std::string& s);  // BINUNICODE
  // The shortest of BININT1, BININT2, BININT and LONG1 that holds `v`.
  void integer(int64_t v);
  // GLOBAL, memoised so that each class is named once.
  void global(const std::string& module, const std::string& name);
  // collections.OrderedDict(), ready for SETITEMS.
  void ordered_dict_start();

 private:
  void u32(uint32_t v);

  std::string out_;
  std::map<std::string, uint32_t> memo_;
};

}  // namespace mbmd::io::detail
