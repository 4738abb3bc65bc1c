// Protocol 2 pickle opcodes for save_checkpoint (see pickle_writer.h).
#include "pickle_writer.h"

namespace mbmd::io::detail {

PickleWriter::PickleWriter() {
  op(0x80);  // PROTO 2
  op(2);
}

void PickleWriter::text(const std::string& s) {
  op('X');  // BINUNICODE
  u32(static_cast<uint32_t>(s.size()));
  out_ += s;
}

void PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    op('K');
    op(static_cast<uint8_t>(v));
  } else if (v >= 0 && v < 65536) {
    op('M');
    op(static_cast<uint8_t>(v & 0xff));
    op(static_cast<uint8_t>(v >> 8));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op('J');
    u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
  } else {
    op(0x8a);  // LONG1 with 8 bytes of two's complement
    op(8);
    const auto u = static_cast<uint64_t>(v);
    for (int k = 0; k < 8; ++k) op(static_cast<uint8_t>(u >> (8 * k)));
  }
}

void PickleWriter::global(const std::string& module, const std::string& name) {
  const std::string key = module + "\n" + name + "\n";
  auto it = memo_.find(key);
  if (it != memo_.end()) {
    op('j');  // LONG_BINGET
    u32(it->second);
    return;
  }
  op('c');
  out_ += key;
  const auto id = static_cast<uint32_t>(memo_.size());
  memo_[key] = id;
  op('r');  // LONG_BINPUT
  u32(id);
}

void PickleWriter::ordered_dict_start() {
  global("collections", "OrderedDict");
  empty_tuple();
  reduce();
}

void PickleWriter::u32(uint32_t v) {
  for (int k = 0; k < 4; ++k) op(static_cast<uint8_t>(v >> (8 * k)));
}

}  // namespace mbmd::io::detail
