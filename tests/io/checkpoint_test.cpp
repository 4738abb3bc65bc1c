#include "mbmd/io/checkpoint.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "io/io_test_util.h"
#include "mbmd/core/error.h"

namespace mbmd::io {
namespace {

using nlohmann::json;
using testing::fixture;
using testing::manifest;
using testing::read_file;
using testing::TempDir;
using testing::write_file;
using testing::write_zip;

at::ScalarType dtype_from_python(const std::string& name) {
  static const std::map<std::string, at::ScalarType> table = {
      {"torch.float32", at::kFloat}, {"torch.float64", at::kDouble},
      {"torch.float16", at::kHalf},  {"torch.bfloat16", at::kBFloat16},
      {"torch.int64", at::kLong},    {"torch.int32", at::kInt},
      {"torch.int16", at::kShort},   {"torch.int8", at::kChar},
      {"torch.uint8", at::kByte},    {"torch.bool", at::kBool}};
  auto it = table.find(name);
  if (it == table.end()) throw std::runtime_error("unknown dtype " + name);
  return it->second;
}

// Every key in order, with dtype, shape, stride, storage offset and every value as Python saw it.
void expect_matches(const StateDict& sd, const json& expected, const std::string& what) {
  ASSERT_EQ(sd.size(), expected.size()) << what;
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& [name, t] = sd[i];
    const json& e = expected[i];
    SCOPED_TRACE(what + " '" + name + "'");
    ASSERT_EQ(name, e["name"].get<std::string>());
    ASSERT_TRUE(t.defined());
    EXPECT_EQ(t.device().type(), at::kCPU);
    EXPECT_EQ(t.scalar_type(), dtype_from_python(e["dtype"]));
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.strides().vec(), e["stride"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.storage_offset(), e["offset"].get<int64_t>());
    const json& values = e["values"];
    ASSERT_EQ(static_cast<size_t>(t.numel()), values.size());
    at::Tensor flat = t.reshape({-1});
    if (t.is_floating_point()) {
      at::Tensor d = flat.to(at::kDouble).contiguous();
      for (int64_t k = 0; k < d.numel(); ++k) {
        EXPECT_EQ(d.data_ptr<double>()[k], values[k].get<double>()) << "element " << k;
      }
    } else {
      at::Tensor l = flat.to(at::kLong).contiguous();
      for (int64_t k = 0; k < l.numel(); ++k) {
        const int64_t want =
            values[k].is_boolean() ? values[k].get<bool>() : values[k].get<int64_t>();
        EXPECT_EQ(l.data_ptr<int64_t>()[k], want) << "element " << k;
      }
    }
  }
}

class Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Fixture, MatchesPython) {
  const std::string name = GetParam();
  const json& expected = manifest().at(name);
  const Checkpoint ckpt = load_checkpoint(fixture(name));
  expect_matches(ckpt.state_dict, expected["state_dict"], name);

  ASSERT_EQ(ckpt.sections.size(), expected["sections"].size()) << name;
  for (const auto& [section, entries] : expected["sections"].items()) {
    ASSERT_EQ(ckpt.sections.count(section), 1u) << section;
    expect_matches(ckpt.sections.at(section), entries, name + " section " + section);
  }
  EXPECT_EQ(ckpt.meta, expected["meta"]) << ckpt.meta.dump(1);

  // Tensors that share a storage in Python share it here (views are not copied apart).
  for (const auto& pair : expected["shares"]) {
    const at::Tensor a = find_tensor(ckpt.state_dict, pair[0]);
    const at::Tensor b = find_tensor(ckpt.state_dict, pair[1]);
    ASSERT_TRUE(a.defined() && b.defined());
    EXPECT_EQ(a.storage().data(), b.storage().data()) << pair.dump();
  }
}

// The manifest's list of checkpoints is the list tested here.
const std::vector<std::string> kFixtures = {
    "tv_state_zip.pth", "tv_state_legacy.pth", "one_entry_zip.pth",      "one_entry_legacy.pth",
    "mmdet_zip.pth",    "mmdet_legacy.pth",    "train_script_p4_zip.pth"};

INSTANTIATE_TEST_SUITE_P(Files, Fixture, ::testing::ValuesIn(kFixtures), [](const auto& info) {
  std::string s = info.param;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
});

TEST(Checkpoint, ManifestListsExactlyTheTestedFiles) {
  std::vector<std::string> names;
  for (const auto& [key, value] : manifest().items()) {
    if (key != "plain_expected") names.push_back(key);
  }
  std::vector<std::string> tested = kFixtures;
  std::sort(tested.begin(), tested.end());
  EXPECT_EQ(names, tested);
}

TEST(Checkpoint, TorchvisionStyleLayouts) {
  for (const char* file : {"tv_state_zip.pth", "tv_state_legacy.pth"}) {
    SCOPED_TRACE(file);
    const StateDict sd = load_state_dict(fixture(file));
    ASSERT_EQ(sd.size(), 25u);
    EXPECT_EQ(sd.front().first, "conv1.weight");
    EXPECT_EQ(sd.back().first, "extra.scalar");
    const at::Tensor tracked = find_tensor(sd, "bn1.num_batches_tracked");
    EXPECT_EQ(tracked.dim(), 0);
    EXPECT_EQ(tracked.item<int64_t>(), 7);
    EXPECT_EQ(find_tensor(sd, "extra.scalar").item<float>(), 2.5f);
    const at::Tensor transposed = find_tensor(sd, "extra.transposed");
    EXPECT_FALSE(transposed.is_contiguous());
    EXPECT_EQ(transposed[3][1].item<float>(), 7.f);  // arange(12).reshape(3, 4).t()
    EXPECT_EQ(find_tensor(sd, "extra.view_b").storage_offset(), 5);
    EXPECT_EQ(find_tensor(sd, "extra.view_c").stride(0), 2);
    EXPECT_EQ(find_tensor(sd, "extra.tied_a").data_ptr(),
              find_tensor(sd, "extra.tied_b").data_ptr());
    EXPECT_EQ(find_tensor(sd, "extra.empty").sizes(), at::IntArrayRef({0, 3}));
    EXPECT_FALSE(find_tensor(sd, "no.such.key").defined());
  }
}

TEST(Checkpoint, MmdetectionStyle) {
  for (const char* file : {"mmdet_zip.pth", "mmdet_legacy.pth"}) {
    SCOPED_TRACE(file);
    const Checkpoint ckpt = load_checkpoint(fixture(file));
    EXPECT_EQ(ckpt.state_dict.size(), 3u);
    // The optimizer's state is keyed by parameter index, so it is not a section.
    ASSERT_EQ(ckpt.sections.size(), 1u);
    EXPECT_EQ(ckpt.sections.begin()->first, "momentum_buffers");
    EXPECT_EQ(ckpt.meta["mmdet_version"], "2.25.1");
    EXPECT_EQ(ckpt.meta["CLASSES"], json::array({"mass"}));
    EXPECT_EQ(ckpt.meta["thing"], "<__main__.Thing object>");
    EXPECT_EQ(ckpt.meta["lr"][0].get<double>(), 0.02);
  }
  const Checkpoint train = load_checkpoint(fixture("train_script_p4_zip.pth"));
  EXPECT_EQ(train.state_dict.front().first, "weight");
  EXPECT_TRUE(train.meta.is_null());
  ASSERT_EQ(train.sections.count("model_ema"), 1u);  // holds an nn.Parameter
}

// Builds a checkpoint with every dtype and layout the writer must handle.
Checkpoint sample_checkpoint() {
  Checkpoint c;
  c.state_dict.emplace_back("conv.weight", at::arange(24, at::kFloat).reshape({2, 3, 4}) * 0.5 - 3);
  c.state_dict.emplace_back("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  c.state_dict.emplace_back("t", at::arange(6, at::kDouble).reshape({2, 3}).t());
  c.state_dict.emplace_back("h", at::arange(4, at::kFloat).to(at::kHalf) / 4);
  c.state_dict.emplace_back("b", at::arange(3, at::kFloat).to(at::kBFloat16) - 1);
  c.state_dict.emplace_back("flag", at::arange(4, at::kLong).remainder(2).to(at::kBool));
  c.state_dict.emplace_back("bytes", at::arange(250, 256, at::kLong).to(at::kByte));
  c.state_dict.emplace_back("chars", at::arange(-3, 3, at::kLong).to(at::kChar));
  c.state_dict.emplace_back("i32", at::arange(3, at::kInt) * 100000);
  c.state_dict.emplace_back("i16", at::arange(3, at::kShort) - 2);
  c.state_dict.emplace_back("empty", at::zeros({0, 2}));
  c.sections["buffers"].emplace_back("momentum", at::full({3}, 0.25, at::kFloat));
  c.meta = {{"epoch", 3}, {"name", "mbmd \u00e4"}, {"best", {{"ap50", 0.5}}}, {"ok", true}};
  return c;
}

TEST(Checkpoint, SaveThenLoadRoundTrip) {
  TempDir dir;
  const Checkpoint c = sample_checkpoint();
  const std::string path = dir.file("roundtrip.pth");
  save_checkpoint(path, c);
  // Written atomically: only the final file is left.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
  const Checkpoint back = load_checkpoint(path);
  ASSERT_EQ(back.state_dict.size(), c.state_dict.size());
  for (size_t i = 0; i < c.state_dict.size(); ++i) {
    SCOPED_TRACE(c.state_dict[i].first);
    EXPECT_EQ(back.state_dict[i].first, c.state_dict[i].first);
    EXPECT_EQ(back.state_dict[i].second.scalar_type(), c.state_dict[i].second.scalar_type());
    EXPECT_EQ(back.state_dict[i].second.sizes(), c.state_dict[i].second.sizes());
    EXPECT_TRUE(back.state_dict[i].second.is_contiguous());
    EXPECT_TRUE(at::equal(back.state_dict[i].second, c.state_dict[i].second));
  }
  ASSERT_EQ(back.sections.size(), 1u);
  EXPECT_TRUE(at::equal(back.sections.at("buffers").at(0).second, at::full({3}, 0.25)));
  EXPECT_EQ(back.meta, c.meta);

  // Overwriting keeps working, and an empty checkpoint round-trips too.
  save_checkpoint(path, Checkpoint{});
  const Checkpoint empty = load_checkpoint(path);
  EXPECT_TRUE(empty.state_dict.empty());
  EXPECT_TRUE(empty.sections.empty());
  EXPECT_TRUE(empty.meta.is_null());
}

TEST(Checkpoint, SaveErrorsNameTheFile) {
  Checkpoint c = sample_checkpoint();
  try {
    save_checkpoint("/nonexistent-dir/x.pth", c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.pth"), std::string::npos) << e.what();
  }
  TempDir dir;
  c.sections["meta"] = {};
  EXPECT_THROW(save_checkpoint(dir.file("x.pth"), c), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.pth")));
}

std::string load_error(const std::string& path) {
  try {
    load_checkpoint(path);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(CheckpointErrors, MissingTextEmptyAndPlainPickle) {
  TempDir dir;
  EXPECT_CONTAINS(load_error(dir.file("missing.pth")), "file not found");
  write_file(dir.file("notes.txt"), "these are not weights\n");
  EXPECT_CONTAINS(load_error(dir.file("notes.txt")), "not a PyTorch checkpoint");
  write_file(dir.file("empty.pth"), "");
  EXPECT_CONTAINS(load_error(dir.file("empty.pth")), "empty file");
  EXPECT_CONTAINS(load_error(dir.path().string()), "not a regular file");
  // pickle.dump output without torch.save's header.
  write_file(dir.file("plain.pkl"), read_file(fixture("plain_p2.pkl")));
  EXPECT_CONTAINS(load_error(dir.file("plain.pkl")), "magic number");
}

TEST(CheckpointErrors, TruncatedFiles) {
  TempDir dir;
  const std::string zip = read_file(fixture("tv_state_zip.pth"));
  for (size_t cut : {size_t{10}, zip.size() / 2, zip.size() - 10}) {
    write_file(dir.file("cut.pth"), zip.substr(0, cut));
    EXPECT_CONTAINS(load_error(dir.file("cut.pth")), "truncated or corrupt zip");
  }
  const std::string legacy = read_file(fixture("tv_state_legacy.pth"));
  for (size_t cut : {size_t{5}, legacy.size() / 4, legacy.size() - 3}) {
    write_file(dir.file("cut.pth"), legacy.substr(0, cut));
    EXPECT_CONTAINS(load_error(dir.file("cut.pth")), "truncated");
  }
}

// {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 2), 0, (n,), (1,), False, {})}
std::string one_tensor_pickle(int n) {
  std::string p = "\x80\x02}(" + std::string("X\x01\x00\x00\x00w", 6);
  p += "ctorch._utils\n_rebuild_tensor_v2\n((" + std::string("X\x07\x00\x00\x00storage", 12);
  p += "ctorch\nFloatStorage\n" +
       std::string(
           "X\x01\x00\x00\x00"
           "0",
           6) +
       std::string(
           "X\x03\x00\x00\x00"
           "cpu",
           8) +
       "K\x02tQ";
  p += std::string("K\x00", 2) + "K" + std::string(1, static_cast<char>(n)) +
       "\x85K\x01\x85\x89}tRu.";
  return p;
}

TEST(CheckpointErrors, CorruptZipContents) {
  TempDir dir;
  const std::string two_floats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  // The hand-made pickle is right: two elements load.
  write_zip(dir.file("good.pth"), one_tensor_pickle(2), {{"data/0", two_floats}});
  EXPECT_TRUE(
      at::equal(load_state_dict(dir.file("good.pth")).at(0).second, at::tensor({1.f, 2.f})));

  write_zip(dir.file("outside.pth"), one_tensor_pickle(3), {{"data/0", two_floats}});
  EXPECT_CONTAINS(load_error(dir.file("outside.pth")), "outside its storage");
  write_zip(dir.file("norecord.pth"), one_tensor_pickle(2));
  EXPECT_CONTAINS(load_error(dir.file("norecord.pth")), "record data/0 is missing");
  write_zip(dir.file("short.pth"), one_tensor_pickle(2), {{"data/0", two_floats.substr(0, 6)}});
  EXPECT_CONTAINS(load_error(dir.file("short.pth")), "holds 6 bytes");
  write_zip(dir.file("opcode.pth"), std::string("\x80\x02\x82\x01.", 5));
  EXPECT_CONTAINS(load_error(dir.file("opcode.pth")), "unsupported pickle opcode EXT1");
  {
    caffe2::serialize::PyTorchStreamWriter writer(dir.file("other.pth"));
    writer.writeRecord("weights.bin", "abc", 3);
  }
  EXPECT_CONTAINS(load_error(dir.file("other.pth")), "without data.pkl");
  // A zip that torch.save did not write (two top folders, no version record).
  {
    caffe2::serialize::PyTorchStreamWriter writer(dir.file("plain.zip"));
    writer.writeRecord("weights.bin", "abc", 3);
    writer.writeEndOfFile();
  }
  std::string zip = read_file(dir.file("plain.zip"));
  for (size_t at = zip.find("plain/version"); at != std::string::npos;
       at = zip.find("plain/version", at + 1)) {
    zip.replace(at, 13, "other/version");  // the version record moves to another folder
  }
  write_file(dir.file("plain.zip"), zip);
  EXPECT_CONTAINS(load_error(dir.file("plain.zip")), "a zip archive but not a PyTorch checkpoint");
}

TEST(CheckpointErrors, NoStateDictInside) {
  TempDir dir;
  // {'epoch': 3}
  write_zip(dir.file("epoch.pth"),
            "\x80\x02}X" + std::string("\x05\x00\x00\x00", 4) + "epochK\x03s.");
  const std::string msg = load_error(dir.file("epoch.pth"));
  EXPECT_CONTAINS(msg, "no state dict inside");
  EXPECT_CONTAINS(msg, "'epoch'");
  // [] at the top.
  write_zip(dir.file("list.pth"), "\x80\x02].");
  EXPECT_CONTAINS(load_error(dir.file("list.pth")), "the top object is a list");
  // {'state_dict': {'a': 1}}
  write_zip(dir.file("int.pth"), "\x80\x02}X" + std::string("\x0a\x00\x00\x00", 4) +
                                     "state_dict}X" + std::string("\x01\x00\x00\x00", 4) +
                                     "aK\x01ss.");
  EXPECT_CONTAINS(load_error(dir.file("int.pth")), "'a' holds the integer 1, not a tensor");
}

}  // namespace
}  // namespace mbmd::io
