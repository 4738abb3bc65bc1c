#include "mbmd/io/pickle.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>

#include "io/io_test_util.h"
#include "mbmd/core/error.h"

namespace mbmd::io {
namespace {

using testing::error_of;
using testing::fixture;
using testing::manifest;
using testing::read_file;
using testing::unpickle_string;

// Python's pickle.dump of the same object at each protocol: the JSON form must equal what the
// generator computed from the object in Python.
class PlainPickle : public ::testing::TestWithParam<int> {};

TEST_P(PlainPickle, MatchesPython) {
  const std::string name = "plain_p" + std::to_string(GetParam()) + ".pkl";
  const std::string bytes = read_file(fixture(name));
  ASSERT_FALSE(bytes.empty()) << name;
  size_t consumed = 0;
  PickleRef root = unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name,
                            nullptr, &consumed);
  EXPECT_EQ(consumed, bytes.size());
  ASSERT_EQ(root->kind, PickleValue::Kind::Dict);
  EXPECT_TRUE(root->ordered);
  EXPECT_EQ(to_json(*root), manifest()["plain_expected"]) << to_json(*root).dump(1);

  // Keys keep their order; the memo makes one shared list, not two copies.
  ASSERT_EQ(root->entries.size(), 10u);
  EXPECT_EQ(root->entries.front().first->text, "small");
  EXPECT_EQ(root->entries.back().first->text, "thing");
  const PickleValue* shared = root->find("shared");
  ASSERT_NE(shared, nullptr);
  ASSERT_EQ(shared->items.size(), 2u);
  EXPECT_EQ(shared->items[0].get(), shared->items[1].get());
  // The unknown class keeps its attributes as its state.
  const PickleValue* thing = root->find("thing");
  ASSERT_NE(thing, nullptr);
  EXPECT_EQ(thing->kind, PickleValue::Kind::Object);
  EXPECT_EQ(thing->text, "__main__.Thing");
  ASSERT_TRUE(thing->state);
  const PickleValue* value = thing->state->find("value");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(value->integer, 1);
  const PickleValue* blob = root->find("blob");
  ASSERT_NE(blob, nullptr);
  EXPECT_EQ(blob->kind, PickleValue::Kind::Bytes);
  EXPECT_EQ(blob->text, std::string("\xff\x00z", 3));
}

INSTANTIATE_TEST_SUITE_P(Protocols, PlainPickle, ::testing::Values(0, 1, 2, 3, 4, 5));

TEST(Pickle, UnsupportedOpcodeIsNamed) {
  // EXT1 (copyreg extension registry) is not supported.
  const std::string msg = error_of([] { unpickle_string(std::string("\x80\x02\x82\x01.", 5)); });
  EXPECT_NE(msg.find("unsupported pickle opcode EXT1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.pkl"), std::string::npos) << msg;
  const std::string msg2 = error_of([] { unpickle_string("\x80\x02\x96"); });
  EXPECT_NE(msg2.find("BYTEARRAY8"), std::string::npos) << msg2;
}

TEST(Pickle, TruncatedAndCorruptAreErrors) {
  const std::string bytes = read_file(fixture("plain_p2.pkl"));
  for (size_t cut : {size_t{1}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string msg = error_of([&] { unpickle_string(bytes.substr(0, cut)); });
    EXPECT_NE(msg.find("test.pkl: truncated pickle"), std::string::npos) << cut << ": " << msg;
  }
  EXPECT_NE(error_of([] { unpickle_string("\x80\x02R."); }).find("stack underflow"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_string("\x80\x02h\x05."); }).find("memo key 5"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_string("\x80\x02NN."); }).find("STOP with 2 values"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_string("\x80\x02NQ."); }).find("persistent id"),
            std::string::npos);
}

// torch._utils._rebuild_tensor_v2(persistent storage 's', offset, (size,), (stride,), False, {})
std::string rebuild_pickle(int offset, int size, int stride) {
  std::string p =
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += std::string("X\x01\x00\x00\x00s", 6) + "Q";
  p += "K" + std::string(1, static_cast<char>(offset));
  p += "K" + std::string(1, static_cast<char>(size)) + "\x85";
  p += "K" + std::string(1, static_cast<char>(stride)) + "\x85";
  p += "\x89}tR.";
  return p;
}

TEST(Pickle, RebuildsTensorsOverTheGivenStorage) {
  at::Tensor storage = at::arange(6, at::kFloat);
  int calls = 0;
  PersistentLoad load = [&](const PickleValue& pid) {
    ++calls;
    EXPECT_EQ(pid.text, "s");
    auto v = std::make_shared<PickleValue>();
    v->kind = PickleValue::Kind::Storage;
    v->tensor = storage;
    return v;
  };
  PickleRef t = unpickle_string(rebuild_pickle(1, 3, 2), load);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(t->kind, PickleValue::Kind::Tensor);
  EXPECT_EQ(t->tensor.sizes(), at::IntArrayRef({3}));
  EXPECT_EQ(t->tensor.strides(), at::IntArrayRef({2}));
  EXPECT_EQ(t->tensor.storage_offset(), 1);
  EXPECT_TRUE(at::equal(t->tensor, at::tensor({1.f, 3.f, 5.f})));
  EXPECT_EQ(t->tensor.data_ptr(), storage.data_ptr<float>() + 1);  // a view, not a copy

  // Offset 1, three elements with stride 2 reach element 5; stride 3 would reach 7 of 6.
  const std::string msg = error_of([&] { unpickle_string(rebuild_pickle(1, 3, 3), load); });
  EXPECT_NE(msg.find("outside its storage of 6 elements"), std::string::npos) << msg;
  // An empty tensor anywhere inside is fine.
  EXPECT_EQ(unpickle_string(rebuild_pickle(6, 0, 1), load)->tensor.numel(), 0);
}

TEST(Pickle, RebuildTensorV3ReinterpretsAnUntypedStorage) {
  // PyTorch 2's _rebuild_tensor_v3(untyped storage, 1, (2,), (1,), False, {}, torch.float32)
  const float values[3] = {1.5f, -2.f, 4.f};
  at::Tensor bytes = at::empty({12}, at::kByte);
  std::memcpy(bytes.data_ptr(), values, sizeof(values));
  PersistentLoad load = [&](const PickleValue&) {
    auto v = std::make_shared<PickleValue>();
    v->kind = PickleValue::Kind::Storage;
    v->tensor = bytes;
    return v;
  };
  std::string p =
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v3\n(";
  p += std::string("X\x01\x00\x00\x00s", 6) + "QK\x01K\x02\x85K\x01\x85\x89}ctorch\nfloat32\ntR.";
  PickleRef t = unpickle_string(p, load);
  ASSERT_EQ(t->kind, PickleValue::Kind::Tensor);
  EXPECT_EQ(t->tensor.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(t->tensor, at::tensor({-2.f, 4.f})));
  // Offset 2 with two floats needs 16 bytes of the 12.
  p[p.find("QK\x01") + 2] = 2;
  EXPECT_NE(error_of([&] { unpickle_string(p, load); }).find("outside its storage of 3"),
            std::string::npos);
}

TEST(Pickle, StorageTypes) {
  EXPECT_EQ(storage_dtype("torch.FloatStorage", "f"), at::kFloat);
  EXPECT_EQ(storage_dtype("torch.cuda.HalfStorage", "f"), at::kHalf);
  EXPECT_EQ(storage_dtype("torch.BFloat16Storage", "f"), at::kBFloat16);
  EXPECT_EQ(storage_dtype("torch.CharStorage", "f"), at::kChar);
  EXPECT_EQ(storage_dtype("torch.ByteStorage", "f"), at::kByte);
  EXPECT_EQ(storage_dtype("torch.BoolStorage", "f"), at::kBool);
  const std::string msg = error_of([] { storage_dtype("torch.QInt8Storage", "model.pth"); });
  EXPECT_NE(msg.find("model.pth: unsupported storage type torch.QInt8Storage"), std::string::npos)
      << msg;
}

}  // namespace
}  // namespace mbmd::io
