// The limits the pickle and checkpoint readers enforce against hostile or damaged files
// (docs/reliability.md): nesting depth, claimed lengths, zip record sizes, invalid UTF-8 and
// self-references. Every input is built here by hand, byte by byte.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "io/io_test_util.h"
#include "mbmd/core/error.h"
#include "mbmd/io/checkpoint.h"
#include "mbmd/io/pickle.h"

namespace mbmd::io {
namespace {

using nlohmann::json;
using namespace std::string_literals;  // "..."s keeps NUL bytes inside literals
using testing::error_of;
using testing::read_file;
using testing::TempDir;
using testing::unpickle_string;
using testing::write_file;
using testing::write_zip;

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD in UTF-8

std::string le(uint64_t v, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  return out;
}

std::string unicode(const std::string& s) { return "X" + le(s.size(), 4) + s; }  // BINUNICODE

std::string pickle_error(const std::string& bytes) {
  return error_of([&] { unpickle_string(bytes); });
}

// `levels` lists, each inside the next: EMPTY_LIST `levels` times, then APPEND each into the one
// below it on the stack.
std::string nested_lists(size_t levels) {
  return std::string(levels, ']') + std::string(levels - 1, 'a');
}

TEST(PickleLimits, NestingDeeperThanTheLimitIsAnErrorNotACrash) {
  static_assert(kMaxPickleNesting == 1000);
  // At the limit: reads, converts (to_json stops at its own depth) and is destroyed.
  {
    PickleRef root = unpickle_string("\x80\x02" + nested_lists(1000) + ".");
    EXPECT_EQ(root->nesting, 1000);
    EXPECT_NO_THROW(to_json(*root).dump());
  }
  const std::string past = "pickle nesting deeper than 1000 levels";
  EXPECT_CONTAINS(pickle_error("\x80\x02" + nested_lists(1001) + "."), past);
  // The fuzzer's input: 200,000 levels used to overflow the stack.
  const std::string deep = pickle_error("\x80\x02" + nested_lists(200000) + ".");
  EXPECT_CONTAINS(deep, "test.pkl: " + past);
  // The same through MARK + LIST, TUPLE1, MARK + DICT and APPENDS.
  EXPECT_CONTAINS(pickle_error(std::string(200000, '(') + std::string(200000, 'l') + "."), past);
  EXPECT_CONTAINS(pickle_error("\x80\x02)" + std::string(200000, '\x85') + "."), past);
  std::string dicts = "\x80\x02";
  for (int k = 0; k < 200000; ++k) dicts += "(K\x01";
  EXPECT_CONTAINS(pickle_error(dicts + "}" + std::string(200000, 'd') + "."), past);
  std::string appends = "\x80\x02";
  for (int k = 0; k < 200000; ++k) appends += "](";
  EXPECT_CONTAINS(pickle_error(appends + "]" + std::string(200000, 'e') + "."), past);
}

TEST(PickleLimits, ClaimedLengthsLongerThanTheInputAreRefused) {
  // Each opcode with a length field claiming more than the few bytes that follow.
  const std::string rest = "abc.";
  for (const std::string& claim :
       {"X" + le(0xffffffffu, 4), "B" + le(0xffffffffu, 4), "T" + le(0x7fffffffu, 4),
        "\x8b" + le(0xffffffffu, 4), "\x8d" + le(uint64_t{1} << 62, 8),
        "\x8e" + le(~uint64_t{0}, 8), "\x95" + le(uint64_t{1} << 40, 8), std::string("\x8c\xc8"),
        std::string("C\xc8"), std::string("U\xc8"), std::string("\x8a\xc8")}) {
    const std::string msg = pickle_error("\x80\x04" + claim + rest);
    EXPECT_CONTAINS(msg, "test.pkl: truncated pickle (needs ");
    EXPECT_CONTAINS(msg, "only 4 left");
  }
  // A memo key is not a size: the largest LONG_BINPUT key stores and loads one value.
  EXPECT_EQ(unpickle_string("\x80\x02K\x07r" + le(0xffffffffu, 4) + "0j" + le(0xffffffffu, 4) + ".")
                ->integer,
            7);
}

TEST(PickleLimits, TensorSizesThatOverflowAreRefused) {
  PersistentLoad load = [](const PickleValue&) {
    auto v = std::make_shared<PickleValue>();
    v->kind = PickleValue::Kind::Storage;
    v->tensor = at::zeros({6}, at::kFloat);
    return v;
  };
  // _rebuild_tensor_v2(storage, 0, (size0, size1), (stride0, stride1), False, {}), each size and
  // stride an 8-byte LONG1.
  const auto rebuild = [&](uint64_t size0, uint64_t size1, uint64_t stride0, uint64_t stride1) {
    const auto long1 = [](uint64_t v) { return "\x8a\x08" + le(v, 8); };
    return unpickle_string(
        "\x80\x02"
        "ctorch._utils\n_rebuild_tensor_v2\n(" +
            unicode("s") + "QK\x00"s + long1(size0) + long1(size1) + "\x86" + long1(stride0) +
            long1(stride1) + "\x86\x89}tR.",
        load);
  };
  EXPECT_EQ(rebuild(3, 1, 2, 0)->tensor.numel(), 3);
  // (2^62 + 1 - 1) * 4 wraps to 0 in 64 bits: the view would reach far past the 6 floats.
  EXPECT_CONTAINS(error_of([&] { rebuild((uint64_t{1} << 62) + 1, 1, 4, 0); }),
                  "test.pkl: corrupt pickle at byte");
  EXPECT_CONTAINS(error_of([&] { rebuild((uint64_t{1} << 62) + 1, 1, 4, 0); }), "too large");
  // 2^40 * 2^40 elements (all stride 0, so inside the storage) do not fit 64 bits.
  const uint64_t big = uint64_t{1} << 40;
  EXPECT_CONTAINS(error_of([&] { rebuild(big, big, 0, 0); }), "too large");
  EXPECT_EQ(rebuild(big, 1, 0, 0)->tensor.numel(), int64_t{1} << 40);  // an expanded view is fine
}

TEST(PickleLimits, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(valid_utf8("plain \xc3\xa4 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "plain \xc3\xa4 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(valid_utf8("a\xff"), "a" + kReplacement);
  EXPECT_EQ(valid_utf8("\xc0\xaf"), kReplacement + kReplacement);  // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), kReplacement + kReplacement + kReplacement);  // surrogate
  EXPECT_EQ(valid_utf8("\xf4\x90\x80\x80"), std::string() + kReplacement + kReplacement +
                                                kReplacement + kReplacement);  // past U+10FFFF
  EXPECT_EQ(valid_utf8("x\xe2\x82"), "x" + kReplacement + kReplacement);       // cut short

  // {'\xff': 'a\xc0b', 'thing': <object of class \xfe.C>} with the raw bytes in BINUNICODE.
  const std::string p = "\x80\x02}(" + unicode("\xff") +
                        unicode(
                            "a\xc0"
                            "b") +
                        unicode("thing") + "c\xfe\nC\n)\x81u.";
  PickleRef root = unpickle_string(p);
  const json j = to_json(*root);
  EXPECT_EQ(j.dump(), json({{kReplacement, "a" + kReplacement + "b"},
                            {"thing", "<" + kReplacement + ".C object>"}})
                          .dump());
}

TEST(PickleLimits, SelfReferencesAreRefused) {
  const std::string self = "self-referencing pickle";
  // l = []; l.append(l) as Python's pickler writes it: EMPTY_LIST MEMOIZE BINGET 0 APPEND.
  const std::string list = pickle_error(
      "\x80\x04]\x94h\x00"
      "a."s);
  EXPECT_CONTAINS(list, "test.pkl: " + self);
  EXPECT_CONTAINS(list, "would contain itself");
  EXPECT_CONTAINS(pickle_error("\x80\x04]\x94(h\x00"
                               "e."s),
                  self);                                              // APPENDS
  EXPECT_CONTAINS(pickle_error("\x80\x04}\x94K\x01h\x00s."s), self);  // d[1] = d
  // t = (); u = (t,); t's state = u (BUILD): t is already inside u.
  EXPECT_CONTAINS(pickle_error("\x80\x04)\x94(h\x00tb."s), self);
  // a = []; b = []; a.append(b); b.append(a): the second edge closes a loop through a.
  const std::string loop = pickle_error(
      "\x80\x04]\x94]\x94"
      "a0h\x01h\x00"
      "a."s);
  EXPECT_CONTAINS(loop, self);
  EXPECT_CONTAINS(loop, "changes after it was put inside another value");
  // An object whose state holds the object: c = C(); c.__dict__ = {'me': c}.
  EXPECT_CONTAINS(pickle_error("\x80\x04"
                               "c__main__\nC\n)\x81\x94}\x94(" +
                               unicode("me") + "h\x00ub."s),
                  self);
  // addict's Dict (mmcv's ConfigDict) gives itself as its state: that is no cycle to keep.
  PickleRef config = unpickle_string(
      "\x80\x04"
      "c__main__\nConfigDict\n)\x81\x94(" +
      unicode("k") +
      "K\x01uh\x00"
      "b."s);
  EXPECT_EQ(to_json(*config), json({{"k", 1}}));
  EXPECT_FALSE(config->state);
}

// {'state_dict': {}, 'meta': <meta pickle>}
std::string checkpoint_pickle(const std::string& meta) {
  return "\x80\x02}(" + unicode("state_dict") + "}" + unicode("meta") + meta + "u.";
}

std::string load_error(const std::string& path) {
  try {
    load_checkpoint(path);
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), path);
    return e.what();
  }
  return "(no error)";
}

TEST(CheckpointLimits, DeepOrSelfReferencingMetaIsAnError) {
  TempDir dir;
  write_zip(dir.file("deep.pth"), checkpoint_pickle(nested_lists(200000)));
  EXPECT_CONTAINS(load_error(dir.file("deep.pth")), "(data.pkl): pickle nesting deeper than 1000");
  write_zip(dir.file("self.pth"), checkpoint_pickle("]\x94h\x00"
                                                    "a"s));
  EXPECT_CONTAINS(load_error(dir.file("self.pth")), "self-referencing pickle");
  // The project's own meta is JSON text: its nesting is limited the same way.
  write_zip(dir.file("ok.pth"),
            checkpoint_pickle(unicode(std::string(1000, '[') + std::string(1000, ']'))));
  EXPECT_TRUE(load_checkpoint(dir.file("ok.pth")).meta.is_array());
  write_zip(dir.file("text.pth"),
            checkpoint_pickle(unicode(std::string(200000, '[') + std::string(200000, ']'))));
  EXPECT_CONTAINS(load_error(dir.file("text.pth")), "meta JSON nesting deeper than 1000 levels");
}

TEST(CheckpointLimits, InvalidUtf8InMetaIsReplaced) {
  TempDir dir;
  // Text that is not JSON stays text; JSON text keeps its structure; a pickled dict converts.
  write_zip(dir.file("text.pth"), checkpoint_pickle(unicode("note \xff\xfe")));
  const Checkpoint text = load_checkpoint(dir.file("text.pth"));
  EXPECT_EQ(text.meta, json("note " + kReplacement + kReplacement));
  EXPECT_NO_THROW(text.meta.dump());
  write_zip(dir.file("json.pth"), checkpoint_pickle(unicode("{\"name\": \"a\xff"
                                                            "b\"}")));
  EXPECT_EQ(load_checkpoint(dir.file("json.pth")).meta, json({{"name", "a" + kReplacement + "b"}}));
  write_zip(dir.file("dict.pth"),
            checkpoint_pickle("}(" + unicode("k\xe9") + unicode("caf\xe9") + "u"));
  const Checkpoint dict = load_checkpoint(dir.file("dict.pth"));
  EXPECT_EQ(dict.meta.dump(), json({{"k" + kReplacement, "caf" + kReplacement}}).dump());
  // What was read can be saved again.
  EXPECT_NO_THROW(save_checkpoint(dir.file("again.pth"), dict));
}

// Sets what the central directory claims for the record whose name ends with `suffix`: its
// extracted size, and its compression method when `method` is given.
void claim(std::string& zip, const std::string& suffix, uint32_t size, int method = -1) {
  const std::string signature("PK\x01\x02", 4);
  for (size_t at = zip.find(signature); at != std::string::npos; at = zip.find(signature, at + 4)) {
    const size_t name_length = static_cast<uint8_t>(zip[at + 28]) |
                               static_cast<size_t>(static_cast<uint8_t>(zip[at + 29])) << 8;
    const std::string name = zip.substr(at + 46, name_length);
    if (name.size() < suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    zip.replace(at + 24, 4, le(size, 4));
    if (method >= 0) zip.replace(at + 10, 2, le(static_cast<uint64_t>(method), 2));
    return;
  }
  ADD_FAILURE() << "no record " << suffix;
}

// {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), 0, (2,), (1,), ...)}
// with the element count as an 8-byte LONG1.
std::string tensor_pickle(uint64_t numel) {
  return "\x80\x02}(" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" +
         unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") +
         "\x8a\x08" + le(numel, 8) + "tQK\x00K\x02\x85K\x01\x85\x89}tRu."s;
}

TEST(CheckpointLimits, ZipRecordSizesAreCheckedBeforeAllocating) {
  TempDir dir;
  const std::string two_floats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  write_zip(dir.file("good.pth"), tensor_pickle(2), {{"data/0", two_floats}});
  EXPECT_TRUE(
      at::equal(load_state_dict(dir.file("good.pth")).at(0).second, at::tensor({1.f, 2.f})));
  const std::string good = read_file(dir.file("good.pth"));
  // A record, the pickle or the version record (read as the archive opens) claiming 2 GiB.
  for (const char* record : {"/data/0", "/data.pkl", "/version"}) {
    std::string zip = good;
    claim(zip, record, 0x7fffffffu);
    write_file(dir.file("claims.pth"), zip);
    const std::string msg = load_error(dir.file("claims.pth"));
    EXPECT_CONTAINS(msg, "truncated or corrupt zip archive (record ");
    EXPECT_CONTAINS(msg, std::string(record) + " claims 2147483647 bytes, more than the file's " +
                             std::to_string(good.size()));
  }
  // Deflated records may expand up to 1032 times, no more.
  std::string deflated = good;
  claim(deflated, "/data/0", 8 * 1032 + 1032, 8);
  write_file(dir.file("deflated.pth"), deflated);
  EXPECT_CONTAINS(load_error(dir.file("deflated.pth")), "more than 1032 times its 8 compressed");
  // A storage whose element count times 4 bytes wraps around 64 bits to 0.
  write_zip(dir.file("numel.pth"), tensor_pickle(uint64_t{1} << 62), {{"data/0", two_floats}});
  EXPECT_CONTAINS(load_error(dir.file("numel.pth")),
                  "record data/0 holds 8 bytes, its tensor needs 4611686018427387904 elements");
}

}  // namespace
}  // namespace mbmd::io
