// A small Python pickle reader (protocols 0-4, everything torch.save emits) into a generic value
// tree, so that PyTorch checkpoints can be read without Python (docs/design.md, "Checkpoints").
//
// Globals the project understands become real values: collections.OrderedDict -> an ordered
// Dict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter -> a Tensor viewing a storage that
// the caller's persistent-load function supplies. Any other global (mmdetection's `meta` holds
// arbitrary objects) becomes an Object placeholder that keeps its class name, constructor
// arguments and state, never an error.
//
// Limits (docs/reliability.md): a value nests at most kMaxPickleNesting levels deep, a length a
// pickle claims must fit in the bytes that remain, and a container cannot be changed once it is
// inside another value (so that no value can contain itself). Breaking one is an mbmd::Error.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace mbmd::io {

// How deep values may nest, counting each value on the way down (a list holding an empty list is
// two levels). Checked whenever the reader puts a value inside another, so that everything that
// walks a value tree recursively (to_json, the destructors of nested shared_ptr values, the
// callers' own walks) needs at most this many stack frames; real checkpoints nest about ten
// levels, and a hostile file of nested lists would otherwise overflow the stack.
inline constexpr int kMaxPickleNesting = 1000;

struct PickleValue;
// Values are shared: the pickle memo (BINPUT/BINGET) refers to the same object from several
// places, and containers are filled after they are memoised.
using PickleRef = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind {
    None,
    Bool,
    Int,     // fits in 64 bits
    BigInt,  // a longer Python int: `text` holds its little-endian two's-complement bytes
    Float,
    String,  // str (and Python 2 str from BINSTRING), UTF-8
    Bytes,
    List,
    Tuple,
    Dict,     // dict or collections.OrderedDict, insertion order kept
    Storage,  // what the persistent-load function returned: a 1-D tensor over the storage
    Tensor,
    Global,  // a class or function reference: `text` is "module.name"
    Object,  // an instance of an unknown class: `text` is "module.name"
  };

  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  std::string text;                                      // String, Bytes, BigInt, Global, Object
  std::vector<PickleRef> items;                          // List, Tuple; list items of an Object
  std::vector<std::pair<PickleRef, PickleRef>> entries;  // Dict; dict items of an Object
  std::vector<PickleRef> args;                           // Object: constructor arguments
  PickleRef state;                                       // set by BUILD (Object, Dict, Tensor)
  at::Tensor tensor;                                     // Tensor, Storage
  bool ordered = false;                                  // Dict made by collections.OrderedDict
  // Kept by the reader: the levels of nesting at and below this value (1 for a value without
  // items), and whether the value has been put inside another one (it is then final).
  int nesting = 1;
  bool contained = false;

  bool is_string() const { return kind == Kind::String; }
  // Dict entry whose key is the string `key`, or nullptr.
  const PickleValue* find(const std::string& key) const;
  // A short human-readable description for error messages ("a list of 3 items").
  std::string describe() const;
};

// Called for BINPERSID/PERSID with the persistent id (torch: a tuple
// ('storage', storage_type, key, location, numel[, view_metadata])).
using PersistentLoad = std::function<PickleRef(const PickleValue& pid)>;

// Reads one pickle from data[0, size) up to its STOP opcode. `source` names the file (and
// record) in error messages. `consumed`, when given, receives the number of bytes read, so that
// several pickles written one after another can be read in turn. Throws mbmd::Error for a
// truncated or corrupt pickle (also a length that claims more bytes than remain), an unsupported
// opcode (named), nesting deeper than kMaxPickleNesting, or a self-referencing value.
PickleRef unpickle(const uint8_t* data, size_t size, const std::string& source,
                   const PersistentLoad& persistent_load, size_t* consumed = nullptr);

// The JSON form of a value: str/int/float/bool/None/list/tuple/dict as themselves (dict keys as
// text), dict and list subclasses by their items, anything else as a string placeholder:
// "<module.Class object>" for objects, "module.name" for classes and functions, "<bytes of
// length N>", "<int 0x...>" for ints beyond 64 bits, "<tensor Float [2, 3]>". Text that is not
// valid UTF-8 (old Python 2 byte strings, damaged files) has each bad byte replaced by U+FFFD, as
// valid_utf8 does, so that the JSON can always be written.
nlohmann::json to_json(const PickleValue& value);

// `text` as valid UTF-8: each byte that does not belong to a well-formed UTF-8 sequence (also
// overlong forms, surrogates and code points past U+10FFFF) becomes U+FFFD. Valid text comes
// back unchanged.
std::string valid_utf8(const std::string& text);

// The dtype named by a torch storage class ("torch.FloatStorage", "torch.cuda.HalfStorage");
// throws mbmd::Error naming `source` for anything else.
at::ScalarType storage_dtype(const std::string& storage_class, const std::string& source);

}  // namespace mbmd::io
