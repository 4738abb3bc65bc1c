// Patient-grouped 5-part splits: no patient in two parts, balance, reproducibility, split files.
#include "mbmd/data/split.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "data/expect_error.h"
#include "mbmd/core/error.h"
#include "mbmd/data/mias.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace mbmd::data;

namespace {

const std::vector<Sample>& mias_samples() {
  static const std::vector<Sample> samples = [] {
    DatasetOptions options;
    options.root = std::string(MBMD_SHARED_DIR) + "/data/mini-mias";
    return read_mias(options).samples;
  }();
  return samples;
}

using mbmd::testing::expect_error;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class SplitTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = mbmd::testing::fresh_test_dir("mbmd_split_"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(SplitTest, PatientsStayTogetherAndPartsAreBalanced) {
  const auto& samples = mias_samples();
  std::map<std::string, const Sample*> by_id;
  for (const auto& s : samples) by_id[s.image_id] = &s;
  for (const std::uint64_t seed : {0ull, 1ull, 42ull, 20240601ull}) {
    const Split split = make_split(samples, seed, "/data/mias");
    ASSERT_EQ(split.parts.size(), 5u);
    EXPECT_NO_THROW(check_split(split, samples));
    std::map<std::string, std::size_t> part_of_patient;
    std::set<std::string> seen;
    std::vector<int> images, with_masses;
    for (std::size_t p = 0; p < 5; ++p) {
      int masses = 0;
      for (const auto& id : split.parts[p]) {
        ASSERT_TRUE(seen.insert(id).second) << id;
        const Sample& s = *by_id.at(id);
        const auto [where, inserted] = part_of_patient.emplace(s.patient_id, p);
        EXPECT_EQ(where->second, p) << "patient " << s.patient_id << " in two parts";
        masses += s.boxes.size(0) > 0;
      }
      images.push_back(static_cast<int>(split.parts[p].size()));
      with_masses.push_back(masses);
    }
    EXPECT_EQ(seen.size(), samples.size());
    // 55 films with masses over 5 parts: 11 each, give or take one patient's two films.
    EXPECT_LE(*std::max_element(with_masses.begin(), with_masses.end()) -
                  *std::min_element(with_masses.begin(), with_masses.end()),
              2)
        << "seed " << seed;
    // 321 films: 64 or 65 per part, give or take two patients (films with masses are dealt by
    // their masses first).
    EXPECT_LE(*std::max_element(images.begin(), images.end()) -
                  *std::min_element(images.begin(), images.end()),
              4)
        << "seed " << seed;
  }
}

TEST_F(SplitTest, SameSeedSameFileOtherSeedOtherSplit) {
  const auto& samples = mias_samples();
  write_split(path("a.json"), make_split(samples, 7, "/data/mias"));
  write_split(path("b.json"), make_split(samples, 7, "/data/mias"));
  write_split(path("c.json"), make_split(samples, 8, "/data/mias"));
  EXPECT_EQ(read_bytes(path("a.json")), read_bytes(path("b.json")));
  EXPECT_NE(read_bytes(path("a.json")), read_bytes(path("c.json")));
  // The order of the samples does not matter, only the seed.
  std::vector<Sample> reversed(samples.rbegin(), samples.rend());
  const Split forward = make_split(samples, 7);
  const Split backward = make_split(reversed, 7);
  for (std::size_t p = 0; p < 5; ++p) {
    auto f = forward.parts[p], b = backward.parts[p];
    std::sort(f.begin(), f.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(f, b) << "part " << p;
  }
}

TEST_F(SplitTest, FileRoundTripAndFolds) {
  const Split split = make_split(mias_samples(), 123456789012345ull, "/data/mias");
  write_split(path("s.json"), split);
  const Split back = read_split(path("s.json"));
  EXPECT_EQ(back.seed, 123456789012345ull);
  EXPECT_EQ(back.dataset_root, "/data/mias");
  EXPECT_EQ(back.parts, split.parts);
  for (int r = 0; r < 5; ++r) {
    const Fold fold = split_fold(back, r);
    EXPECT_EQ(fold.test, split.parts[r]);
    EXPECT_EQ(fold.val, split.parts[(r + 1) % 5]);
    std::set<std::string> all(fold.train.begin(), fold.train.end());
    EXPECT_EQ(all.size(), fold.train.size());
    for (const auto& id : fold.test) EXPECT_EQ(all.count(id), 0u);
    for (const auto& id : fold.val) EXPECT_EQ(all.count(id), 0u);
    EXPECT_EQ(fold.train.size() + fold.val.size() + fold.test.size(), mias_samples().size());
    const auto selected = select_samples(mias_samples(), fold.test);
    ASSERT_EQ(selected.size(), fold.test.size());
    EXPECT_EQ(selected.front().image_id, fold.test.front());
  }
  expect_error([&] { split_fold(back, 5); }, {"5"});
  expect_error([&] { select_samples(mias_samples(), {"mdb999"}); }, {"mdb999"});
}

TEST_F(SplitTest, SmallDatasetGreedyDealing) {
  // Ten patients, one film each, the first four with masses: each part gets at most one of them
  // until every part has one, and two films per part.
  std::vector<Sample> samples;
  for (int i = 0; i < 10; ++i) {
    Sample s;
    s.image_id = "img" + std::to_string(i);
    s.patient_id = "pat" + std::to_string(i);
    s.boxes = i < 4 ? at::zeros({1, 4}) : at::zeros({0, 4});
    samples.push_back(s);
  }
  const Split split = make_split(samples, 3);
  int parts_with_masses = 0;
  for (const auto& part : split.parts) {
    EXPECT_EQ(part.size(), 2u);
    int masses = 0;
    for (const auto& id : part) masses += std::stoi(id.substr(3)) < 4;
    EXPECT_LE(masses, 1);
    parts_with_masses += masses;
  }
  EXPECT_EQ(parts_with_masses, 4);
}

TEST_F(SplitTest, BadSplitsAndFiles) {
  const auto& samples = mias_samples();
  Split split = make_split(samples, 1);
  // Move mdb002 away from mdb001: one woman in two parts.
  for (auto& part : split.parts)
    part.erase(std::remove(part.begin(), part.end(), "mdb002"), part.end());
  const std::size_t home =
      std::find_if(split.parts.begin(), split.parts.end(),
                   [](const auto& part) {
                     return std::find(part.begin(), part.end(), "mdb001") != part.end();
                   }) -
      split.parts.begin();
  split.parts[(home + 1) % 5].push_back("mdb002");
  expect_error([&] { check_split(split, samples); }, {"p001", "parts"});
  split.parts[0].push_back("mdb999");
  expect_error([&] { check_split(split, samples); }, {"mdb999"});

  std::ofstream(path("bad1.json")) << R"({"format": "other", "version": 1})";
  expect_error([&] { read_split(path("bad1.json")); }, {path("bad1.json"), "mbmd-split"});
  std::ofstream(path("bad2.json")) << R"({"format": "mbmd-split", "version": 1, "seed": 1,
                                         "parts": [["a"], ["a"]]})";
  expect_error([&] { read_split(path("bad2.json")); }, {path("bad2.json"), "'a'", "twice"});
  std::ofstream(path("bad3.json")) << R"({"format": "mbmd-split", "version": 1, "seed": -3,
                                         "parts": [["a"], ["b"]]})";
  expect_error([&] { read_split(path("bad3.json")); }, {path("bad3.json"), "seed"});
  std::ofstream(path("bad4.json")) << R"({"format": "mbmd-split", "version": 1, "seed": 3,
                                         "parts": [["a"], [2]]})";
  expect_error([&] { read_split(path("bad4.json")); }, {path("bad4.json"), "parts[1]"});
  std::ofstream(path("bad5.json")) << "{";
  expect_error([&] { read_split(path("bad5.json")); }, {path("bad5.json"), "not valid JSON"});
}

}  // namespace
