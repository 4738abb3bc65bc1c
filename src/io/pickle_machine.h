// The pickle machine behind unpickle() (include/mbmd/io/pickle.h): its stack, marks and memo, and
// the value constructors its opcodes share. Private to src/io: pickle_machine.cpp runs the
// opcodes, pickle_globals.cpp turns the globals a pickle calls into values, pickle_text.cpp decodes
// the text forms of protocol 0.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd/io/pickle.h"

namespace mbmd::io::detail {

using Kind = PickleValue::Kind;

inline PickleRef make(Kind kind) {
  auto value = std::make_shared<PickleValue>();
  value->kind = kind;
  return value;
}

inline PickleRef make_int(int64_t v) {
  auto value = make(Kind::Int);
  value->integer = v;
  return value;
}

inline PickleRef make_string(std::string s, Kind kind = Kind::String) {
  auto value = make(kind);
  value->text = std::move(s);
  return value;
}

// Decodes UTF-8 into code points; bytes that are not valid UTF-8 are taken as latin-1.
std::vector<uint32_t> utf8_code_points(const std::string& s);

// Decimal text (protocol 0 LONG) to the minimal little-endian two's-complement bytes that LONG1
// would hold, so that long integers look the same whatever the protocol.
std::string decimal_to_le_bytes(const std::string& digits_text);

// One pickle being read: run() interprets opcodes from data[0, size) up to STOP.
class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::string& source,
            const PersistentLoad& persistent_load)
      : data_(data), size_(size), source_(source), persistent_load_(persistent_load) {}

  PickleRef run(size_t* consumed);

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(source_ + ": corrupt pickle at byte " + std::to_string(op_pos_) + ": " + what);
  }
  void need(size_t n) const {
    if (n > size_ - pos_) {
      throw Error(source_ + ": truncated pickle (needs " + std::to_string(n) + " bytes at byte " +
                  std::to_string(pos_) + ", only " + std::to_string(size_ - pos_) + " left)");
    }
  }
  const uint8_t* take(size_t n) {
    need(n);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8() { return *take(1); }
  uint64_t uint_le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
    return v;
  }
  std::string bytes(uint64_t n) {
    const uint8_t* p = take(static_cast<size_t>(n));
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  std::string line() {
    size_t end = pos_;
    while (end < size_ && data_[end] != '\n') ++end;
    if (end >= size_) need(end - pos_ + 1);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), end - pos_);
    pos_ = end + 1;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }

  void push(PickleRef v) { stack_.push_back(std::move(v)); }
  PickleRef pop() {
    if (stack_.size() <= mark_floor()) fail("stack underflow");
    PickleRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PickleRef& top() {
    if (stack_.size() <= mark_floor()) fail("stack underflow");
    return stack_.back();
  }
  size_t mark_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<PickleRef> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t start = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(start), stack_.end());
    stack_.resize(start);
    return items;
  }
  // The memo key a memo opcode (BINPUT, PUT, MEMOIZE, BINGET, ...) stores to or reads from.
  uint64_t memo_key(uint8_t op);
  void memo_put(uint64_t id) {
    if (stack_.empty()) fail("memo store with an empty stack");
    memo_[id] = stack_.back();
  }
  void memo_get(uint64_t id) {
    auto it = memo_.find(id);
    if (it == memo_.end()) fail("memo key " + std::to_string(id) + " was never stored");
    push(it->second);
  }
  PickleRef call_persistent_load(const PickleRef& pid) {
    if (!persistent_load_) fail("persistent id found but nothing can load it");
    PickleRef v = persistent_load_(*pid);
    if (!v) fail("persistent id could not be loaded");
    return v;
  }

  // Puts `child` inside `parent` (as an item, a dict key or value, an argument or the state):
  // refuses a self-reference and nesting deeper than kMaxPickleNesting (pickle_machine.cpp).
  void adopt(PickleValue& parent, PickleValue& child);
  void adopt_all(PickleValue& parent, const std::vector<PickleRef>& children) {
    for (const auto& child : children) adopt(parent, *child);
  }
  // A new List or Tuple holding `items`.
  PickleRef make_container(Kind kind, std::vector<PickleRef> items) {
    auto c = make(kind);
    adopt_all(*c, items);
    c->items = std::move(items);
    return c;
  }
  PickleRef make_tuple(std::vector<PickleRef> items) {
    return make_container(Kind::Tuple, std::move(items));
  }
  // A new Object of class `name` whose constructor arguments are `args`.
  PickleRef make_object(const std::string& name, std::vector<PickleRef> args) {
    auto obj = make(Kind::Object);
    obj->text = name;
    adopt_all(*obj, args);
    obj->args = std::move(args);
    return obj;
  }
  PickleRef make_global(const std::string& module, const std::string& name) {
    return make_string(module + "." + name, Kind::Global);
  }
  void set_items(PickleValue& target, std::vector<PickleRef> kv) {
    if (target.kind != Kind::Dict && target.kind != Kind::Object) {
      fail("SETITEMS on " + target.describe());
    }
    if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    adopt_all(target, kv);
    for (size_t k = 0; k < kv.size(); k += 2) {
      // A repeated key replaces the value in place, keeping the first position like a dict.
      bool replaced = false;
      if (kv[k]->kind == Kind::String || kv[k]->kind == Kind::Int) {
        for (auto& e : target.entries) {
          if (e.first->kind == kv[k]->kind && e.first->text == kv[k]->text &&
              e.first->integer == kv[k]->integer) {
            e.second = kv[k + 1];
            replaced = true;
            break;
          }
        }
      }
      if (!replaced) target.entries.emplace_back(kv[k], kv[k + 1]);
    }
  }
  void append_items(PickleValue& target, std::vector<PickleRef> items) {
    if (target.kind != Kind::List && target.kind != Kind::Object) {
      fail("APPENDS on " + target.describe());
    }
    adopt_all(target, items);
    for (auto& item : items) target.items.push_back(std::move(item));
  }

  // pickle_globals.cpp: what calling a global (REDUCE) gives.
  PickleRef reduce(const PickleRef& callable, const PickleRef& args);
  PickleRef rebuild_tensor(const std::vector<PickleRef>& args, const std::string& fn,
                           std::optional<at::ScalarType> dtype);
  // pickle_text.cpp: the arguments of protocol 0's STRING and UNICODE.
  std::string text_literal(const std::string& quoted);
  std::string raw_unicode_escape(const std::string& raw);

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  const std::string& source_;
  const PersistentLoad& persistent_load_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

}  // namespace mbmd::io::detail
