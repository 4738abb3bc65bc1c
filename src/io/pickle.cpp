#include "mbmd/io/pickle.h"

#include <ATen/ATen.h>

#include <cstring>
#include <iomanip>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "mbmd/core/error.h"

namespace mbmd::io {

namespace {

using Kind = PickleValue::Kind;
using Json = nlohmann::json;

PickleRef make(Kind kind) {
  auto value = std::make_shared<PickleValue>();
  value->kind = kind;
  return value;
}

PickleRef make_int(int64_t v) {
  auto value = make(Kind::Int);
  value->integer = v;
  return value;
}

PickleRef make_string(std::string s, Kind kind = Kind::String) {
  auto value = make(kind);
  value->text = std::move(s);
  return value;
}

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

// Appends the UTF-8 encoding of a code point (used for Python 2 / protocol 0 text and for
// _codecs.encode's latin-1 round trip).
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Decodes UTF-8 into code points; bytes that are not valid UTF-8 are taken as latin-1.
std::vector<uint32_t> utf8_code_points(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + extra >= s.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    uint32_t cp = extra == 0 ? c : (c & (0x3f >> extra));
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      const auto d = static_cast<uint8_t>(s[i + k]);
      if ((d >> 6) != 2) ok = false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (!ok) {
      out.push_back(c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

// Decimal text (protocol 0 LONG) to the minimal little-endian two's-complement bytes that LONG1
// would hold, so that long integers look the same whatever the protocol.
std::string decimal_to_le_bytes(const std::string& digits_text) {
  const bool negative = !digits_text.empty() && digits_text[0] == '-';
  std::vector<uint8_t> mag;  // little-endian magnitude
  for (size_t i = negative ? 1 : 0; i < digits_text.size(); ++i) {
    unsigned carry = static_cast<unsigned>(digits_text[i] - '0');
    for (auto& byte : mag) {
      const unsigned v = byte * 10u + carry;
      byte = static_cast<uint8_t>(v & 0xff);
      carry = v >> 8;
    }
    while (carry) {
      mag.push_back(static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  if (negative) {
    unsigned carry = 1;
    for (auto& byte : mag) {
      const unsigned v = static_cast<uint8_t>(~byte) + carry;
      byte = static_cast<uint8_t>(v & 0xff);
      carry = v >> 8;
    }
    if (mag.empty() || !(mag.back() & 0x80)) mag.push_back(0xff);
    while (mag.size() > 1 && mag.back() == 0xff && (mag[mag.size() - 2] & 0x80)) mag.pop_back();
  } else if (!mag.empty() && (mag.back() & 0x80)) {
    mag.push_back(0);
  }
  return std::string(mag.begin(), mag.end());
}

int64_t decode_le_int(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
  if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign extension
  return static_cast<int64_t>(v);
}

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

  PickleRef make_tuple(std::vector<PickleRef> items) {
    auto t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  PickleRef make_global(const std::string& module, const std::string& name) {
    return make_string(module + "." + name, Kind::Global);
  }
  void set_items(PickleValue& target, std::vector<PickleRef> kv) {
    if (target.kind != Kind::Dict && target.kind != Kind::Object) {
      fail("SETITEMS on " + target.describe());
    }
    if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of items");
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
    for (auto& item : items) target.items.push_back(std::move(item));
  }

  PickleRef reduce(const PickleRef& callable, const PickleRef& args);
  PickleRef rebuild_tensor(const std::vector<PickleRef>& args, const std::string& fn,
                           std::optional<at::ScalarType> dtype);
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

std::vector<int64_t> int_list(const PickleValue& v, const char* what, const std::string& fn,
                              const std::string& source) {
  if (v.kind != Kind::Tuple && v.kind != Kind::List) {
    throw Error(source + ": " + fn + ": " + what + " is " + v.describe() + ", expected a tuple");
  }
  std::vector<int64_t> out;
  for (const auto& item : v.items) {
    if (item->kind != Kind::Int) {
      throw Error(source + ": " + fn + ": " + what + " holds " + item->describe());
    }
    out.push_back(item->integer);
  }
  return out;
}

// torch.float32 and the like, as _rebuild_tensor_v3 names its dtype.
at::ScalarType dtype_named(const std::string& name, const std::string& source) {
  static const std::vector<std::pair<std::string, at::ScalarType>> table = {
      {"torch.float32", at::kFloat},
      {"torch.float", at::kFloat},
      {"torch.float64", at::kDouble},
      {"torch.double", at::kDouble},
      {"torch.float16", at::kHalf},
      {"torch.half", at::kHalf},
      {"torch.bfloat16", at::kBFloat16},
      {"torch.int64", at::kLong},
      {"torch.long", at::kLong},
      {"torch.int32", at::kInt},
      {"torch.int", at::kInt},
      {"torch.int16", at::kShort},
      {"torch.short", at::kShort},
      {"torch.int8", at::kChar},
      {"torch.uint8", at::kByte},
      {"torch.bool", at::kBool},
      {"torch.complex64", at::kComplexFloat},
      {"torch.complex128", at::kComplexDouble},
  };
  for (const auto& [n, dtype] : table) {
    if (n == name) return dtype;
  }
  throw Error(source + ": unsupported tensor type " + name);
}

PickleRef Unpickler::rebuild_tensor(const std::vector<PickleRef>& args, const std::string& fn,
                                    std::optional<at::ScalarType> dtype) {
  // _rebuild_tensor(storage, storage_offset, size, stride[, requires_grad, backward_hooks, ...])
  if (args.size() < 4) fail(fn + " called with " + std::to_string(args.size()) + " arguments");
  const PickleValue& storage = *args[0];
  if (storage.kind != Kind::Storage) fail(fn + ": first argument is " + storage.describe());
  if (args[1]->kind != Kind::Int) fail(fn + ": storage offset is " + args[1]->describe());
  const int64_t offset = args[1]->integer;
  const auto sizes = int_list(*args[2], "size", fn, source_);
  const auto strides = int_list(*args[3], "stride", fn, source_);
  if (sizes.size() != strides.size()) fail(fn + ": size and stride differ in length");
  // The furthest element the view touches must lie inside the storage.
  int64_t last = offset;
  bool empty = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) fail(fn + ": negative size or stride");
    if (sizes[d] == 0) empty = true;
    last += (sizes[d] - 1) * strides[d];
  }
  // A typed storage counts elements of its own type; an untyped one (v3) is reinterpreted.
  const at::ScalarType type = dtype.value_or(storage.tensor.scalar_type());
  const auto element = static_cast<int64_t>(at::elementSize(type));
  const int64_t start_bytes = storage.tensor.storage_offset() * storage.tensor.element_size();
  if (start_bytes % element != 0) fail(fn + ": storage is not aligned to its tensor type");
  const int64_t numel = storage.tensor.numel() * storage.tensor.element_size() / element;
  if (offset < 0 || (!empty && last >= numel)) {
    fail(fn + ": tensor (offset " + std::to_string(offset) + ", last element " +
         std::to_string(last) + ") reaches outside its storage of " + std::to_string(numel) +
         " elements");
  }
  auto t = make(Kind::Tensor);
  t->tensor = at::empty({0}, storage.tensor.options().dtype(type))
                  .set_(storage.tensor.storage(), start_bytes / element + offset, sizes, strides);
  return t;
}

PickleRef Unpickler::reduce(const PickleRef& callable, const PickleRef& args_value) {
  const std::vector<PickleRef> empty;
  const std::vector<PickleRef>& args =
      args_value->kind == Kind::Tuple || args_value->kind == Kind::List ? args_value->items : empty;
  const std::string name = callable->kind == Kind::Global ? callable->text : std::string();

  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    auto d = make(Kind::Dict);
    d->ordered = name == "collections.OrderedDict";
    // OrderedDict([(k, v), ...]) as older picklers wrote it.
    if (!args.empty() && (args[0]->kind == Kind::List || args[0]->kind == Kind::Tuple)) {
      std::vector<PickleRef> kv;
      for (const auto& pair : args[0]->items) {
        if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2) {
          fail(name + " built from " + pair->describe() + ", expected key-value pairs");
        }
        kv.push_back(pair->items[0]);
        kv.push_back(pair->items[1]);
      }
      set_items(*d, std::move(kv));
    } else if (!args.empty() && args[0]->kind == Kind::Dict) {
      d->entries = args[0]->entries;
    }
    return d;
  }
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    return rebuild_tensor(args, name, std::nullopt);
  }
  if (name == "torch._utils._rebuild_tensor_v3") {
    // PyTorch 2: (untyped storage, offset, size, stride, requires_grad, hooks, dtype, ...).
    if (args.size() < 7 || args[6]->kind != Kind::Global) fail(name + " without a dtype");
    return rebuild_tensor(args, name, dtype_named(args[6]->text, source_));
  }
  if (name == "torch._utils._rebuild_parameter" ||
      name == "torch._utils._rebuild_parameter_with_state") {
    if (args.empty() || args[0]->kind != Kind::Tensor) fail(name + " without a tensor");
    return args[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2" || name == "torch._tensor._rebuild_from_type") {
    // (func, type, args, state): the tensor is func(*args); the subclass type is dropped.
    if (args.size() < 3) fail(name + " called with too few arguments");
    if (args[0]->text.rfind("torch._tensor._rebuild_from_type", 0) == 0) fail(name + " nested");
    return reduce(args[0], args[2]);
  }
  if (name == "copyreg._reconstructor" || name == "copy_reg._reconstructor") {
    // Protocols 0 and 1 write an instance as _reconstructor(cls, base, state) then BUILD.
    auto obj = make(Kind::Object);
    obj->text = !args.empty() && args[0]->kind == Kind::Global ? args[0]->text : name;
    return obj;
  }
  if (name == "_codecs.encode") {
    // Protocol 2 from Python 3 writes bytes as _codecs.encode(str, 'latin1').
    if (args.empty() || args[0]->kind != Kind::String) fail("_codecs.encode without text");
    std::string out;
    for (uint32_t cp : utf8_code_points(args[0]->text)) {
      out.push_back(static_cast<char>(cp & 0xff));
    }
    return make_string(std::move(out), Kind::Bytes);
  }
  if (name == "builtins.set" || name == "builtins.frozenset" || name == "__builtin__.set" ||
      name == "__builtin__.frozenset" || name == "torch.Size") {
    auto out = make(name == "torch.Size" ? Kind::Tuple : Kind::List);
    if (!args.empty()) out->items = args[0]->items;
    return out;
  }
  // Anything else: a placeholder that remembers what would have been built.
  auto obj = make(Kind::Object);
  obj->text = name.empty() ? "<call of " + callable->describe() + ">" : name;
  obj->args = args;
  return obj;
}

// Protocol 0 STRING: a Python repr in quotes with backslash escapes.
std::string Unpickler::text_literal(const std::string& quoted) {
  if (quoted.size() < 2 || (quoted.front() != '\'' && quoted.front() != '"') ||
      quoted.back() != quoted.front()) {
    fail("STRING argument is not quoted");
  }
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    char c = quoted[i];
    if (c != '\\' || i + 2 >= quoted.size()) {
      out.push_back(c);
      continue;
    }
    char e = quoted[++i];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'x':
        if (i + 2 < quoted.size()) {
          out.push_back(static_cast<char>(std::stoi(quoted.substr(i + 1, 2), nullptr, 16)));
          i += 2;
        }
        break;
      default:
        out.push_back(e);
    }
  }
  return out;
}

// Protocol 0 UNICODE: raw-unicode-escape, i.e. latin-1 with \uXXXX and \UXXXXXXXX.
std::string Unpickler::raw_unicode_escape(const std::string& raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == 'u' || raw[i + 1] == 'U')) {
      const size_t digits = raw[i + 1] == 'u' ? 4 : 8;
      if (i + 1 + digits < raw.size()) {
        append_utf8(out, static_cast<uint32_t>(std::stoul(raw.substr(i + 2, digits), nullptr, 16)));
        i += 1 + digits;
        continue;
      }
    }
    append_utf8(out, static_cast<uint8_t>(raw[i]));
  }
  return out;
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
        take(8);
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
      case ']':  // EMPTY_LIST
        push(make(Kind::List));
        break;
      case 'l': {  // LIST
        auto l = make(Kind::List);
        l->items = pop_mark();
        push(l);
        break;
      }
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
      case 0x8f:  // EMPTY_SET
        push(make(Kind::List));
        break;
      case 0x91: {  // FROZENSET
        auto l = make(Kind::List);
        l->items = pop_mark();
        push(l);
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
      case 'q':  // BINPUT
        memo_put(u8());
        break;
      case 'r':  // LONG_BINPUT
        memo_put(uint_le(4));
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size());
        break;
      case 'p': {  // PUT
        const std::string s = line();
        try {
          memo_put(std::stoull(s));
        } catch (const std::invalid_argument&) {
          fail("PUT argument '" + s + "' is not a number");
        }
        break;
      }
      case 'h':  // BINGET
        memo_get(u8());
        break;
      case 'j':  // LONG_BINGET
        memo_get(uint_le(4));
        break;
      case 'g': {  // GET
        const std::string s = line();
        try {
          memo_get(std::stoull(s));
        } catch (const std::invalid_argument&) {
          fail("GET argument '" + s + "' is not a number");
        }
        break;
      }

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
          auto obj = make(Kind::Object);
          obj->text = cls->kind == Kind::Global ? name : "<instance of " + cls->describe() + ">";
          obj->args = args->items;
          push(obj);
        }
        break;
      }
      case 'i': {  // INST (protocol 0)
        const std::string module = line();
        const std::string name = line();
        auto obj = make(Kind::Object);
        obj->text = module + "." + name;
        obj->args = pop_mark();
        push(obj);
        break;
      }
      case 'o': {  // OBJ (protocol 1)
        auto items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        auto obj = make(Kind::Object);
        obj->text = items[0]->kind == Kind::Global ? items[0]->text : items[0]->describe();
        obj->args.assign(items.begin() + 1, items.end());
        push(obj);
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state)
        PickleRef state = pop();
        top()->state = std::move(state);
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

std::string key_text(const PickleValue& key) {
  switch (key.kind) {
    case Kind::String:
      return key.text;
    case Kind::Int:
      return std::to_string(key.integer);
    case Kind::Bool:
      return key.boolean ? "True" : "False";
    case Kind::None:
      return "None";
    case Kind::Float: {
      std::ostringstream s;
      s << key.number;
      return s.str();
    }
    default:
      return "<" + key.describe() + ">";
  }
}

Json json_of(const PickleValue& v, int depth) {
  if (depth > 64) return "<nested too deeply>";
  switch (v.kind) {
    case Kind::None:
      return nullptr;
    case Kind::Bool:
      return v.boolean;
    case Kind::Int:
      return v.integer;
    case Kind::BigInt: {
      std::ostringstream s;
      s << "<int 0x";
      for (auto it = v.text.rbegin(); it != v.text.rend(); ++it) {
        s << std::hex << std::setw(2) << std::setfill('0') << (static_cast<unsigned>(*it) & 0xffu);
      }
      s << ">";
      return s.str();
    }
    case Kind::Float:
      return v.number;
    case Kind::String:
      return v.text;
    case Kind::Bytes:
      return "<bytes of length " + std::to_string(v.text.size()) + ">";
    case Kind::List:
    case Kind::Tuple: {
      Json out = Json::array();
      for (const auto& item : v.items) out.push_back(json_of(*item, depth + 1));
      return out;
    }
    case Kind::Dict: {
      Json out = Json::object();
      for (const auto& [key, value] : v.entries) out[key_text(*key)] = json_of(*value, depth + 1);
      return out;
    }
    case Kind::Storage:
      return "<storage>";
    case Kind::Tensor: {
      std::ostringstream s;
      s << "<tensor " << v.tensor.scalar_type() << " " << v.tensor.sizes() << ">";
      return s.str();
    }
    case Kind::Global:
      return v.text;
    case Kind::Object: {
      // Dict and list subclasses (mmcv's ConfigDict) keep their items; other objects are named.
      if (!v.entries.empty()) {
        Json out = Json::object();
        for (const auto& [key, value] : v.entries) out[key_text(*key)] = json_of(*value, depth + 1);
        return out;
      }
      if (!v.items.empty()) {
        Json out = Json::array();
        for (const auto& item : v.items) out.push_back(json_of(*item, depth + 1));
        return out;
      }
      return "<" + v.text + " object>";
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json to_json(const PickleValue& value) { return json_of(value, 0); }

const PickleValue* PickleValue::find(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::String && k->text == key) return v.get();
  }
  return nullptr;
}

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return boolean ? "True" : "False";
    case Kind::Int:
      return "the integer " + std::to_string(integer);
    case Kind::BigInt:
      return "a long integer";
    case Kind::Float: {
      std::ostringstream s;
      s << "the number " << number;
      return s.str();
    }
    case Kind::String:
      return "the text '" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
    case Kind::Bytes:
      return "bytes of length " + std::to_string(text.size());
    case Kind::List:
      return "a list of " + std::to_string(items.size()) + " items";
    case Kind::Tuple:
      return "a tuple of " + std::to_string(items.size()) + " items";
    case Kind::Dict:
      return std::string(ordered ? "an OrderedDict" : "a dict") + " of " +
             std::to_string(entries.size()) + " entries";
    case Kind::Storage:
      return "a storage";
    case Kind::Tensor: {
      std::ostringstream s;
      s << "a " << tensor.scalar_type() << " tensor of shape " << tensor.sizes();
      return s.str();
    }
    case Kind::Global:
      return "the class or function " + text;
    case Kind::Object:
      return "an object of class " + text;
  }
  return "?";
}

PickleRef unpickle(const uint8_t* data, size_t size, const std::string& source,
                   const PersistentLoad& persistent_load, size_t* consumed) {
  Unpickler unpickler(data, size, source, persistent_load);
  return unpickler.run(consumed);
}

at::ScalarType storage_dtype(const std::string& storage_class, const std::string& source) {
  std::string name = storage_class;
  for (const char* prefix : {"torch.cuda.", "torch."}) {
    if (name.rfind(prefix, 0) == 0) {
      name = name.substr(std::strlen(prefix));
      break;
    }
  }
  static const std::vector<std::pair<std::string, at::ScalarType>> table = {
      {"FloatStorage", at::kFloat},
      {"DoubleStorage", at::kDouble},
      {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16},
      {"LongStorage", at::kLong},
      {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort},
      {"CharStorage", at::kChar},
      {"ByteStorage", at::kByte},
      {"BoolStorage", at::kBool},
      {"ComplexFloatStorage", at::kComplexFloat},
      {"ComplexDoubleStorage", at::kComplexDouble},
      {"UntypedStorage", at::kByte},
  };
  for (const auto& [n, dtype] : table) {
    if (n == name) return dtype;
  }
  throw Error(source + ": unsupported storage type " + storage_class);
}

}  // namespace mbmd::io
