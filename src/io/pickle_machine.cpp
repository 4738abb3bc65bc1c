// The pickle interpreter behind unpickle(): one switch over the opcodes (named as in CPython's
// pickletools) of the stack machine declared in pickle_machine.h.
#include "pickle_machine.h"

#include <algorithm>
#include <cstring>

namespace mbmd::io {

namespace detail {

namespace {

// Opcode names as in CPython's pickletools, for error messages.
const char* opcode_name(uint8_t op) {
  switch (op) {
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 0x96:
      return "BYTEARRAY8";
    case 0x97:
      return "NEXT_BUFFER";
    case 0x98:
      return "READONLY_BUFFER";
    default:
      return nullptr;
  }
}

std::string hex_byte(uint8_t op) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[op >> 4] + digits[op & 15];
}

int64_t decode_le_int(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
  if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign extension
  return static_cast<int64_t>(v);
}

}  // namespace

uint64_t Unpickler::memo_key(uint8_t op) {
  switch (op) {
    case 'q':  // BINPUT
    case 'h':  // BINGET
      return u8();
    case 'r':  // LONG_BINPUT
    case 'j':  // LONG_BINGET
      return uint_le(4);
    case 0x94:  // MEMOIZE: the next free key
      return memo_.size();
    default: {  // PUT, GET: a decimal line
      const std::string s = line();
      try {
        return std::stoull(s);
      } catch (const std::exception&) {  // invalid_argument, or out_of_range past 2^64
        fail(std::string(op == 'p' ? "PUT" : "GET") + " argument '" + s + "' is not a number");
      }
    }
  }
}

void Unpickler::adopt(PickleValue& parent, PickleValue& child) {
  // Python's pickler finishes a value before it puts the value inside another, so a contained
  // value changes only when the pickle is self-referencing (a list that holds itself, directly
  // or through its items). Refusing that keeps every value tree acyclic (shared_ptr cycles would
  // never be freed) and keeps the nesting count of a contained value final, hence exact.
  if (&child == &parent || parent.contained) {
    const char* what = &child == &parent ? " would contain itself"
                                         : " changes after it was put inside another value";
    throw Error(source_ + ": self-referencing pickle at byte " + std::to_string(op_pos_) + " (" +
                parent.describe() + what + "), which is not supported");
  }
  if (child.nesting >= kMaxPickleNesting) {
    throw Error(source_ + ": pickle nesting deeper than " + std::to_string(kMaxPickleNesting) +
                " levels at byte " + std::to_string(op_pos_));
  }
  parent.nesting = std::max(parent.nesting, child.nesting + 1);
  child.contained = true;
}

PickleRef Unpickler::run(size_t* consumed) {
  while (true) {
    op_pos_ = pos_;
    const uint8_t op = u8();
    switch (op) {
      case 0x80:  // PROTO
        if (u8() > 5) fail("unknown pickle protocol");
        break;
      case 0x95:  // FRAME (protocol 4): an 8-byte frame length, frames are read transparently
        need(static_cast<size_t>(uint_le(8)));
        break;
      case '.': {  // STOP
        if (stack_.size() != 1 || !marks_.empty()) {
          fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
        }
        if (consumed) *consumed = pos_;
        return stack_.back();
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        if (stack_.size() > mark_floor()) {
          stack_.pop_back();
        } else {
          pop_mark();
        }
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        push(top());
        break;

      // Constants and numbers.
      case 'N':
        push(make(Kind::None));
        break;
      case 0x88:  // NEWTRUE
      case 0x89: {
        auto b = make(Kind::Bool);
        b->boolean = op == 0x88;
        push(b);
        break;
      }
      case 'J':  // BININT
        push(make_int(static_cast<int32_t>(uint_le(4))));
        break;
      case 'K':  // BININT1
        push(make_int(u8()));
        break;
      case 'M':  // BININT2
        push(make_int(static_cast<int64_t>(uint_le(2))));
        break;
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        const uint64_t n = op == 0x8a ? u8() : uint_le(4);
        const std::string raw = bytes(n);
        const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
        if (n <= 8) {
          push(make_int(decode_le_int(p, n)));
        } else {
          push(make_string(raw, Kind::BigInt));
        }
        break;
      }
      case 'I': {  // INT (protocol 0); "01"/"00" are True/False
        const std::string s = line();
        if (s == "01" || s == "00") {
          auto b = make(Kind::Bool);
          b->boolean = s == "01";
          push(b);
        } else {
          try {
            push(make_int(std::stoll(s)));
          } catch (const std::exception&) {
            fail("INT argument '" + s + "' is not an integer");
          }
        }
        break;
      }
      case 'L': {  // LONG (protocol 0): "123L"
        std::string s = line();
        if (!s.empty() && s.back() == 'L') s.pop_back();
        if (s.empty() || s == "-" ||
            s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) != std::string::npos) {
          fail("LONG argument '" + s + "' is not an integer");
        }
        try {
          push(make_int(std::stoll(s)));
        } catch (const std::out_of_range&) {
          push(make_string(decimal_to_le_bytes(s), Kind::BigInt));
        }
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];
        auto f = make(Kind::Float);
        std::memcpy(&f->number, &bits, sizeof(double));
        push(f);
        break;
      }
      case 'F': {  // FLOAT (protocol 0)
        const std::string s = line();
        auto f = make(Kind::Float);
        try {
          f->number = std::stod(s);
        } catch (const std::exception&) {
          fail("FLOAT argument '" + s + "' is not a number");
        }
        push(f);
        break;
      }

      // Text and bytes.
      case 'X':  // BINUNICODE
        push(make_string(bytes(uint_le(4))));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        push(make_string(bytes(u8())));
        break;
      case 0x8d:  // BINUNICODE8
        push(make_string(bytes(uint_le(8))));
        break;
      case 'T':  // BINSTRING (Python 2 str)
        push(make_string(bytes(uint_le(4))));
        break;
      case 'U':  // SHORT_BINSTRING
        push(make_string(bytes(u8())));
        break;
      case 'S':  // STRING (protocol 0)
        push(make_string(text_literal(line())));
        break;
      case 'V':  // UNICODE (protocol 0)
        push(make_string(raw_unicode_escape(line())));
        break;
      case 'B':  // BINBYTES
        push(make_string(bytes(uint_le(4)), Kind::Bytes));
        break;
      case 'C':  // SHORT_BINBYTES
        push(make_string(bytes(u8()), Kind::Bytes));
        break;
      case 0x8e:  // BINBYTES8
        push(make_string(bytes(uint_le(8)), Kind::Bytes));
        break;

      // Containers.
      case ']':   // EMPTY_LIST
      case 0x8f:  // EMPTY_SET (sets are kept as lists)
        push(make(Kind::List));
        break;
      case 'l':   // LIST
      case 0x91:  // FROZENSET
        push(make_container(Kind::List, pop_mark()));
        break;
      case ')':  // EMPTY_TUPLE
        push(make(Kind::Tuple));
        break;
      case 't':  // TUPLE
        push(make_tuple(pop_mark()));
        break;
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        const size_t n = op - 0x84u;
        if (stack_.size() < mark_floor() + n) fail("stack underflow");
        std::vector<PickleRef> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(make_tuple(std::move(items)));
        break;
      }
      case '}':  // EMPTY_DICT
        push(make(Kind::Dict));
        break;
      case 'd': {  // DICT
        auto d = make(Kind::Dict);
        set_items(*d, pop_mark());
        push(d);
        break;
      }
      case 'a': {  // APPEND
        PickleRef item = pop();
        append_items(*top(), {item});
        break;
      }
      case 'e':     // APPENDS
      case 0x90: {  // ADDITEMS (to a set, kept as a list)
        auto items = pop_mark();
        append_items(*top(), std::move(items));
        break;
      }
      case 's': {  // SETITEM
        PickleRef value = pop();
        PickleRef key = pop();
        set_items(*top(), {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        auto kv = pop_mark();
        set_items(*top(), std::move(kv));
        break;
      }

      // Memo.
      case 'q':   // BINPUT
      case 'r':   // LONG_BINPUT
      case 0x94:  // MEMOIZE
      case 'p':   // PUT
        memo_put(memo_key(op));
        break;
      case 'h':  // BINGET
      case 'j':  // LONG_BINGET
      case 'g':  // GET
        memo_get(memo_key(op));
        break;

      // Classes, calls and objects.
      case 'c': {  // GLOBAL
        const std::string module = line();
        const std::string name = line();
        push(make_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleRef name = pop();
        PickleRef module = pop();
        if (!module->is_string() || !name->is_string()) fail("STACK_GLOBAL without names");
        push(make_global(module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        PickleRef args = pop();
        PickleRef callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 0x81:    // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        if (op == 0x92) pop();
        PickleRef args = pop();
        PickleRef cls = pop();
        const std::string& name = cls->text;
        if (name == "collections.OrderedDict" || name == "builtins.dict") {
          push(reduce(cls, make(Kind::Tuple)));
        } else {
          push(make_object(
              cls->kind == Kind::Global ? name : "<instance of " + cls->describe() + ">",
              args->items));
        }
        break;
      }
      case 'i': {  // INST (protocol 0)
        const std::string module = line();
        const std::string name = line();
        push(make_object(module + "." + name, pop_mark()));
        break;
      }
      case 'o': {  // OBJ (protocol 1)
        auto items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        push(make_object(items[0]->kind == Kind::Global ? items[0]->text : items[0]->describe(),
                         std::vector<PickleRef>(items.begin() + 1, items.end())));
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state)
        PickleRef state = pop();
        PickleValue& target = *top();
        // addict's Dict (mmcv's ConfigDict) pickles itself as its own state: its items are
        // already set, so there is nothing to keep (and keeping it would be a cycle).
        if (state.get() == &target) break;
        adopt(target, *state);
        target.state = std::move(state);
        break;
      }
      case 'Q': {  // BINPERSID
        PickleRef pid = pop();
        push(call_persistent_load(pid));
        break;
      }
      case 'P':  // PERSID
        push(call_persistent_load(make_string(line())));
        break;

      default: {
        const char* name = opcode_name(op);
        throw Error(source_ + ": unsupported pickle opcode " +
                    (name ? std::string(name) + " (" : "(") + hex_byte(op) + ") at byte " +
                    std::to_string(op_pos_));
      }
    }
  }
}

}  // namespace detail

PickleRef unpickle(const uint8_t* data, size_t size, const std::string& source,
                   const PersistentLoad& persistent_load, size_t* consumed) {
  detail::Unpickler unpickler(data, size, source, persistent_load);
  return unpickler.run(consumed);
}

}  // namespace mbmd::io
