// The synthetic phantom: the same seed gives the same files, and its annotations describe what
// was drawn (boxes inside the film and the breast, masses brighter than their surroundings,
// sizes from small to large, normal films, two films per patient readable as COCO).
#include "mbmd/data/synthetic/phantom.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "mbmd/core/error.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/png.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("mbmd_phantom_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir;
}

TEST(Phantom, SameSeedSameFilesOtherSeedOtherPixels) {
  PhantomOptions o;
  o.patients = 3;
  o.width = 96;
  o.height = 128;
  const fs::path a = temp_dir("a"), b = temp_dir("b");
  write_phantom(o, a.string());
  write_phantom(o, b.string());
  // The same json but for info.image_root, the folder it was written to.
  auto without_root = [](const fs::path& json) {
    auto j = nlohmann::json::parse(slurp(json));
    j["info"].erase("image_root");
    return j.dump();
  };
  EXPECT_EQ(without_root(a / "phantom.json"), without_root(b / "phantom.json"));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(a / "images")) {
    EXPECT_EQ(slurp(entry.path()), slurp(b / "images" / entry.path().filename())) << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 6);

  const PhantomFilm f1 = render_phantom_film(o, 4);
  const PhantomFilm f2 = render_phantom_film(o, 4);
  EXPECT_TRUE(f1.image.equal(f2.image));
  EXPECT_TRUE(f1.boxes.equal(f2.boxes));
  PhantomOptions other = o;
  other.seed = 1;
  const PhantomFilm f3 = render_phantom_film(other, 4);
  EXPECT_GT((f1.image - f3.image).abs().mean().item<double>(), 1.0);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(Phantom, AnnotationsDescribeWhatWasDrawn) {
  PhantomOptions o;  // the demo's set: 40 patients, 320x416
  o.patients = 40;
  int films_with = 0, normals = 0, spiculated = 0, masses = 0;
  double smallest = 1e9, largest = 0, lowest_contrast = 1e9, highest_contrast = 0;
  for (int i = 0; i < 2 * o.patients; ++i) {
    const PhantomFilm film = render_phantom_film(o, i);
    ASSERT_EQ(film.image.sizes(), (at::IntArrayRef{o.height, o.width}));
    EXPECT_GE(film.image.min().item<float>(), 0.0f);
    EXPECT_LE(film.image.max().item<float>(), 255.0f);
    EXPECT_EQ(film.laterality, i % 2 == 0 ? "L" : "R");
    // Dark background on the side away from the chest wall, tissue near the chest wall.
    const int far_x = film.laterality == "L" ? o.width - 3 : 2;
    const int near_x = film.laterality == "L" ? 10 : o.width - 11;
    EXPECT_LT(film.image.index({2, far_x}).item<float>(), 30.0f) << "film " << i;
    EXPECT_GT(film.image.index({o.height / 2, near_x}).item<float>(), 60.0f) << "film " << i;
    ASSERT_EQ(film.boxes.size(0), static_cast<int64_t>(film.masses.size()));
    if (film.masses.empty())
      ++normals;
    else
      ++films_with;
    for (size_t k = 0; k < film.masses.size(); ++k) {
      const auto& m = film.masses[k];
      const auto box = film.boxes[k];
      const float x1 = box[0].item<float>(), y1 = box[1].item<float>();
      const float x2 = box[2].item<float>(), y2 = box[3].item<float>();
      EXPECT_GE(x1, 0.0f);
      EXPECT_GE(y1, 0.0f);
      EXPECT_LE(x2, o.width);
      EXPECT_LE(y2, o.height);
      EXPECT_GT(x2 - x1, 4.0f);
      // The box centre is the mass centre and lies inside the breast.
      EXPECT_NEAR(0.5 * (x1 + x2), m.cx, 1e-3);
      EXPECT_NEAR(0.5 * (y1 + y2), m.cy, 1e-3);
      EXPECT_TRUE(film.breast_mask.index({static_cast<int64_t>(m.cy), static_cast<int64_t>(m.cx)})
                      .item<bool>());
      // The core is brighter than a ring just outside the mass by a good part of its contrast.
      const auto ys = at::arange(o.height, at::kFloat).view({-1, 1});
      const auto xs = at::arange(o.width, at::kFloat).view({1, -1});
      const double c = std::cos(m.angle), s = std::sin(m.angle);
      const auto u = (xs - m.cx) * c + (ys - m.cy) * s;
      const auto v = -(xs - m.cx) * s + (ys - m.cy) * c;
      const auto d = at::sqrt((u / m.rx).pow(2) + (v / m.ry).pow(2));
      const double core = film.image.masked_select(d < 0.5).mean().item<double>();
      const auto ring_mask = (d > 1.8) & (d < 2.4) & film.breast_mask;
      const double ring = film.image.masked_select(ring_mask).mean().item<double>();
      EXPECT_GT(core - ring, 0.35 * m.contrast) << "film " << i << " mass " << k;
      smallest = std::min(smallest, double(x2 - x1));
      largest = std::max(largest, double(x2 - x1));
      lowest_contrast = std::min(lowest_contrast, m.contrast);
      highest_contrast = std::max(highest_contrast, m.contrast);
      spiculated += m.spiculated;
      ++masses;
    }
  }
  // 80 films, about 30 % normal; masses from small (under 20 px) to large (over 60 px) and from
  // subtle to obvious.
  EXPECT_GE(normals, 12);
  EXPECT_LE(normals, 36);
  EXPECT_GT(masses, films_with);  // some films have two
  EXPECT_LT(smallest, 20.0);
  EXPECT_GT(largest, 60.0);
  EXPECT_LT(lowest_contrast, 25.0);
  EXPECT_GT(highest_contrast, 50.0);
  EXPECT_GE(spiculated, 5);
}

TEST(Phantom, CocoFileReadsBackWithTwoFilmsPerPatient) {
  PhantomOptions o;
  o.patients = 6;
  o.width = 128;
  o.height = 160;
  o.seed = 7;
  const fs::path dir = temp_dir("coco");
  data::Dataset written;
  const std::string json = write_phantom(o, dir.string(), &written);
  const data::Dataset read = data::read_coco(json);
  ASSERT_EQ(read.samples.size(), 12u);
  ASSERT_EQ(read.categories, std::vector<std::string>{"mass"});
  std::map<std::string, std::vector<std::string>> by_patient;
  for (size_t i = 0; i < read.samples.size(); ++i) {
    const auto& s = read.samples[i];
    by_patient[s.patient_id].push_back(s.laterality);
    EXPECT_EQ(s.image_id, written.samples[i].image_id);
    EXPECT_EQ(s.width, 128);
    EXPECT_EQ(s.height, 160);
    EXPECT_TRUE(fs::exists(s.file)) << s.file;
    ASSERT_EQ(s.boxes.size(0), written.samples[i].boxes.size(0));
    if (s.boxes.size(0) > 0) {
      EXPECT_LT((s.boxes - written.samples[i].boxes).abs().max().item<float>(), 1e-3f);
    }
    // The PNG holds the rendered film (rounded to 8 bits).
    const auto film = render_phantom_film(o, static_cast<int>(i));
    const auto png = data::read_png(s.file).pixels;
    EXPECT_LE((png - film.image).abs().max().item<float>(), 0.5f + 1e-4f);
  }
  EXPECT_EQ(by_patient.size(), 6u);
  for (const auto& [patient, sides] : by_patient)
    EXPECT_EQ(sides, (std::vector<std::string>{"L", "R"})) << patient;
  fs::remove_all(dir);
}

TEST(Phantom, BadOptionsAndAFileAsFolderAreErrors) {
  PhantomOptions o;
  o.patients = 0;
  EXPECT_THROW(check_phantom_options(o), Error);
  o.patients = 2;
  o.width = 10;
  EXPECT_THROW(write_phantom(o, "/tmp/unused"), Error);
  o.width = 96;
  o.min_radius = 0.2;
  o.max_radius = 0.1;
  EXPECT_THROW(render_phantom_film(o, 0), Error);
  o.min_radius = 0.02;
  EXPECT_THROW(render_phantom_film(o, 4), Error);  // only films 0..3
  const fs::path file = temp_dir("file");
  std::ofstream(file) << "x";
  try {
    write_phantom(o, file.string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a file"), std::string::npos) << e.what();
  }
  fs::remove(file);
}

}  // namespace
}  // namespace mbmd::data
