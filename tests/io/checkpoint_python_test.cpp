// Checks against Python itself (Debian's /usr/bin/python3 with torch): our files load in
// torch.load, and a real torchvision ResNet-18 written by torch.save loads here key for key.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "io/io_test_util.h"
#include "mbmd/core/error.h"
#include "mbmd/io/checkpoint.h"

namespace mbmd::io {
namespace {

using mbmd::testing::python_interpreter;
using testing::python_with_torch;
using testing::read_file;
using testing::run_python;
using testing::TempDir;
using testing::write_file;

#define REQUIRE_PYTHON()                                                                    \
  if (!python_with_torch()) {                                                               \
    GTEST_SKIP() << python_interpreter() << " with torch and torchvision is not installed"; \
  }

// What Python must find in the file written below; the tensors are built independently on each
// side from the same formulas.
const char* kReadOurFile = R"PY(
import collections, json, sys, torch
d = torch.load(sys.argv[1])
assert type(d) is dict, type(d)
assert list(d.keys()) == ["state_dict", "buffers", "zeta", "meta"], list(d.keys())
sd = d["state_dict"]
assert type(sd) is collections.OrderedDict, type(sd)
assert list(sd.keys()) == ["conv.weight", "bn.num_batches_tracked", "t", "h", "b", "flag"], list(sd)
def same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), (a, b)
same(sd["conv.weight"], torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) * 0.5 - 3)
same(sd["bn.num_batches_tracked"], torch.tensor(7))
same(sd["t"], torch.arange(6, dtype=torch.float64).reshape(2, 3).t())
same(sd["h"], torch.arange(4).half() / 4)
same(sd["b"], torch.arange(3).bfloat16() - 1)
same(sd["flag"], torch.tensor([False, True, False, True]))
assert type(d["buffers"]) is collections.OrderedDict
same(d["buffers"]["momentum"], torch.full((3,), 0.25))
assert list(d["zeta"].keys()) == ["empty"] and d["zeta"]["empty"].shape == (0, 2)
assert json.loads(d["meta"]) == {"epoch": 3, "name": "mbmd \u00e4", "best": {"ap50": 0.5}}, d["meta"]
print("python read it")
)PY";

TEST(CheckpointPython, TorchLoadReadsOurFormat) {
  REQUIRE_PYTHON();
  TempDir dir;
  Checkpoint c;
  c.state_dict.emplace_back("conv.weight", at::arange(24, at::kFloat).reshape({2, 3, 4}) * 0.5 - 3);
  c.state_dict.emplace_back("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  c.state_dict.emplace_back("t", at::arange(6, at::kDouble).reshape({2, 3}).t());
  c.state_dict.emplace_back("h", at::arange(4, at::kFloat).to(at::kHalf) / 4);
  c.state_dict.emplace_back("b", at::arange(3, at::kFloat).to(at::kBFloat16) - 1);
  c.state_dict.emplace_back("flag", at::arange(4, at::kLong).remainder(2).to(at::kBool));
  c.sections["zeta"].emplace_back("empty", at::zeros({0, 2}));
  c.sections["buffers"].emplace_back("momentum", at::full({3}, 0.25, at::kFloat));
  c.meta = {{"epoch", 3}, {"name", "mbmd \u00e4"}, {"best", {{"ap50", 0.5}}}};
  save_checkpoint(dir.file("ours.pth"), c);

  write_file(dir.file("read.py"), kReadOurFile);
  std::string output;
  const int status = run_python(dir.file("read.py"), dir.file("ours.pth"), &output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("python read it"), std::string::npos) << output;
}

// torchvision's ResNet-18 as torch.save writes it (zip and legacy), with Python's own listing of
// every key, dtype, shape and two checksums.
const char* kWriteResnet = R"PY(
import json, sys, torch, torchvision
torch.manual_seed(0)
sd = torchvision.models.resnet18().state_dict()
out = sys.argv[1]
torch.save(sd, out + "/resnet18_zip.pth")
torch.save(sd, out + "/resnet18_legacy.pth", _use_new_zipfile_serialization=False)
listing = [{"name": k, "dtype": str(v.dtype), "shape": list(v.shape),
            "sum": v.double().sum().item(), "abs_sum": v.double().abs().sum().item(),
            "first": v.reshape(-1)[0].item() if v.numel() else None} for k, v in sd.items()]
json.dump(listing, open(out + "/resnet18.json", "w"))
torch.jit.script(torch.nn.Linear(2, 2)).save(out + "/scripted.pt")
)PY";

TEST(CheckpointPython, TorchvisionResnet18AllKeys) {
  REQUIRE_PYTHON();
  TempDir dir;
  write_file(dir.file("write.py"), kWriteResnet);
  std::string output;
  ASSERT_EQ(run_python(dir.file("write.py"), dir.path().string(), &output), 0) << output;
  const auto listing = nlohmann::json::parse(read_file(dir.file("resnet18.json")));
  ASSERT_EQ(listing.size(), 122u);  // 62 conv/bn/fc parameters + 60 BatchNorm buffers

  for (const char* file : {"resnet18_zip.pth", "resnet18_legacy.pth"}) {
    SCOPED_TRACE(file);
    const StateDict sd = load_state_dict(dir.file(file));
    ASSERT_EQ(sd.size(), listing.size());
    for (size_t i = 0; i < sd.size(); ++i) {
      const auto& e = listing[i];
      const auto& [name, t] = sd[i];
      ASSERT_EQ(name, e["name"].get<std::string>());
      EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>()) << name;
      EXPECT_EQ(e["dtype"], t.scalar_type() == at::kLong ? "torch.int64" : "torch.float32") << name;
      EXPECT_TRUE(t.scalar_type() == at::kLong || t.scalar_type() == at::kFloat) << name;
      const at::Tensor d = t.to(at::kDouble);
      const double sum = d.sum().item<double>();
      const double abs_sum = d.abs().sum().item<double>();
      const double tol = 1e-9 * std::max(1.0, e["abs_sum"].get<double>());
      EXPECT_NEAR(sum, e["sum"].get<double>(), tol) << name;
      EXPECT_NEAR(abs_sum, e["abs_sum"].get<double>(), tol) << name;
      EXPECT_EQ(d.reshape({-1})[0].item<double>(), e["first"].get<double>()) << name;
    }
    EXPECT_EQ(sd[0].first, "conv1.weight");
    EXPECT_EQ(sd.back().first, "fc.bias");
  }
  // A TorchScript archive is recognised as such.
  try {
    load_checkpoint(dir.file("scripted.pt"));
    ADD_FAILURE() << "a TorchScript archive loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TorchScript archive"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mbmd::io
