// PGM and PNG decoding and writing: synthetic files with known values, bad files, and the real
// mini-MIAS films (the PNG copies must decode to exactly the distributed PGM pixels).
#include "mbmd/data/image_io.h"

#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/expect_error.h"
#include "mbmd/core/error.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/pgm.h"
#include "mbmd/data/png.h"
#include "mbmd_paths.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace mbmd::data;

namespace {

const std::string kMias = std::string(MBMD_SHARED_DIR) + "/data/mini-mias";
const std::string kMiasPgm = std::string(MBMD_SHARED_DIR) + "/data/mini-mias-pgm";

class ImageIoTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = mbmd::testing::fresh_test_dir("mbmd_image_io_"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Expects `f` to throw mbmd::Error whose message contains every one of `parts`.
using mbmd::testing::expect_error;

// Writes a PNG with libpng directly (any colour type), to test decoding of what we do not write.
void write_test_png(const std::string& path, int width, int height, int color_type, int bit_depth,
                    const std::vector<int>& samples) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const int channels = static_cast<int>(samples.size()) / (width * height);
  const int bytes = bit_depth / 8;
  std::vector<unsigned char> row(static_cast<std::size_t>(width) * channels * bytes);
  for (int y = 0; y < height; ++y) {
    for (int i = 0; i < width * channels; ++i) {
      const int v = samples[static_cast<std::size_t>(y) * width * channels + i];
      if (bytes == 2) {
        row[2 * i] = static_cast<unsigned char>(v >> 8);
        row[2 * i + 1] = static_cast<unsigned char>(v & 0xff);
      } else {
        row[i] = static_cast<unsigned char>(v);
      }
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

std::vector<float> values(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

TEST_F(ImageIoTest, Pgm8BitWithCommentsInTheHeader) {
  std::string bytes = "P5\n# made by a test\n3 # width\n2\n# maxval next\n255\n";
  for (unsigned char v : {0, 1, 127, 128, 254, 255}) bytes.push_back(static_cast<char>(v));
  write_bytes(path("a.pgm"), bytes);
  const ImageInfo info = read_image_info(path("a.pgm"));
  EXPECT_EQ(info.format, "pgm");
  EXPECT_EQ(info.width, 3);
  EXPECT_EQ(info.height, 2);
  EXPECT_EQ(info.bit_depth, 8);
  EXPECT_EQ(info.max_value, 255);
  const DecodedImage image = read_image(path("a.pgm"));
  ASSERT_EQ(image.pixels.sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_EQ(image.pixels.scalar_type(), at::kFloat);
  EXPECT_EQ(values(image.pixels), (std::vector<float>{0, 1, 127, 128, 254, 255}));
}

TEST_F(ImageIoTest, Pgm16BitIsBigEndianAndKeepsItsDepth) {
  // maxval 4095: a 12-bit film stored in two bytes per value, most significant first.
  std::string bytes = "P5 2 2 4095\n";
  for (int v : {0, 1, 256 + 2, 4095}) {
    bytes.push_back(static_cast<char>(v >> 8));
    bytes.push_back(static_cast<char>(v & 0xff));
  }
  write_bytes(path("b.pgm"), bytes);
  const DecodedImage image = read_pgm(path("b.pgm"));
  EXPECT_EQ(image.info.bit_depth, 12);
  EXPECT_EQ(image.info.max_value, 4095);
  EXPECT_EQ(values(image.pixels), (std::vector<float>{0, 1, 258, 4095}));
  const auto scaled = values(to_unit_255(image.pixels, image.info.max_value));
  EXPECT_FLOAT_EQ(scaled[2], 258.0f * 255.0f / 4095.0f);
  EXPECT_FLOAT_EQ(scaled[3], 255.0f);
}

TEST_F(ImageIoTest, PgmWriteReadRoundTrip) {
  const at::Tensor pixels = at::arange(0, 60000, 1000, at::kFloat).reshape({4, 15});
  write_pgm(path("c.pgm"), pixels, 65535);
  const DecodedImage image = read_pgm(path("c.pgm"));
  EXPECT_EQ(image.info.bit_depth, 16);
  EXPECT_TRUE(image.pixels.equal(pixels));
  // 8-bit: rounding and clamping.
  write_pgm(path("d.pgm"), at::tensor({-3.0f, 1.4f, 1.6f, 300.0f}).reshape({1, 4}));
  EXPECT_EQ(read_bytes(path("d.pgm")), std::string("P5\n4 1\n255\n\x00\x01\x02\xff", 15));
}

TEST_F(ImageIoTest, BadPgmFilesNameTheFileAndTheProblem) {
  write_bytes(path("short.pgm"), "P5\n4 4\n255\n" + std::string(10, 'x'));
  expect_error([&] { read_image(path("short.pgm")); },
               {path("short.pgm"), "truncated", "16", "10"});
  write_bytes(path("ascii.pgm"), "P2\n2 1\n255\n0 1\n");
  expect_error([&] { read_image_info(path("ascii.pgm")); }, {path("ascii.pgm"), "P2"});
  write_bytes(path("head.pgm"), "P5\n4 4\n");
  expect_error([&] { read_pgm_info(path("head.pgm")); }, {path("head.pgm"), "truncated"});
  write_bytes(path("maxval.pgm"), "P5\n1 1\n70000\n\x01");
  expect_error([&] { read_pgm(path("maxval.pgm")); }, {path("maxval.pgm"), "maxval"});
  write_bytes(path("letters.pgm"), "P5\n1 x\n255\n\x01");
  expect_error([&] { read_pgm(path("letters.pgm")); }, {path("letters.pgm"), "height"});
  write_bytes(path("over.pgm"), "P5\n2 1\n100\n\x01\xc8");
  expect_error([&] { read_pgm(path("over.pgm")); }, {path("over.pgm"), "200", "maxval 100"});
  write_bytes(path("text.pgm"), "hello");
  expect_error([&] { read_image(path("text.pgm")); }, {path("text.pgm"), "not a PNG"});
  expect_error([&] { read_image(path("absent.png")); }, {path("absent.png"), "cannot open"});
}

TEST_F(ImageIoTest, PngWriteReadRoundTrip8And16Bit) {
  const at::Tensor ramp = at::arange(0, 256, at::kFloat).reshape({16, 16});
  write_png(path("8.png"), ramp, 8);
  const DecodedImage a = read_png(path("8.png"));
  EXPECT_EQ(a.info.bit_depth, 8);
  EXPECT_EQ(a.info.width, 16);
  EXPECT_TRUE(a.pixels.equal(ramp));

  const at::Tensor wide = at::arange(0, 65536, 257, at::kFloat).reshape({16, 16});
  write_png(path("16.png"), wide, 16);
  const ImageInfo info = read_image_info(path("16.png"));
  EXPECT_EQ(info.bit_depth, 16);
  EXPECT_EQ(info.max_value, 65535);
  EXPECT_EQ(info.height, 16);
  EXPECT_TRUE(read_image(path("16.png")).pixels.equal(wide));
  // Values are rounded and clamped to the depth.
  write_png(path("r.png"), at::tensor({-1.0f, 0.4f, 0.6f, 70000.0f}).reshape({2, 2}), 16);
  EXPECT_EQ(values(read_png(path("r.png")).pixels), (std::vector<float>{0, 0, 1, 65535}));
  // Atomic: nothing but the file is left in the folder.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 3);
  expect_error([&] { write_png(path("r.png"), ramp, 12); }, {"8 or 16"});
  expect_error([&] { write_png(path("no/such/dir/x.png"), ramp, 8); }, {"no/such/dir/x.png"});
}

TEST_F(ImageIoTest, PngColourAndAlphaBecomeGrey) {
  // 2x1 RGB 8-bit: pure red and a grey pixel.
  write_test_png(path("rgb.png"), 2, 1, PNG_COLOR_TYPE_RGB, 8, {255, 0, 0, 10, 20, 30});
  const DecodedImage rgb = read_png(path("rgb.png"));
  EXPECT_EQ(rgb.info.channels, 3);
  const auto v = values(rgb.pixels);
  EXPECT_FLOAT_EQ(v[0], 0.299f * 255);
  EXPECT_FLOAT_EQ(v[1], 0.299f * 10 + 0.587f * 20 + 0.114f * 30);
  // 16-bit RGB keeps its range.
  write_test_png(path("rgb16.png"), 1, 1, PNG_COLOR_TYPE_RGB, 16, {1000, 1000, 1000});
  EXPECT_NEAR(values(read_png(path("rgb16.png")).pixels)[0], 1000.0f, 1e-2);
  // Grey + alpha: the alpha is dropped.
  write_test_png(path("ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {7, 0, 200, 255});
  EXPECT_EQ(values(read_png(path("ga.png")).pixels), (std::vector<float>{7, 200}));
}

TEST_F(ImageIoTest, BadPngFilesNameTheFileAndTheProblem) {
  write_png(path("good.png"), at::rand({64, 64}) * 255, 8);
  const std::string good = read_bytes(path("good.png"));
  write_bytes(path("cut.png"), good.substr(0, good.size() / 2));
  expect_error([&] { read_image(path("cut.png")); }, {path("cut.png"), "PNG", "truncated"});
  write_bytes(path("cut_header.png"), good.substr(0, 20));
  expect_error([&] { read_image_info(path("cut_header.png")); }, {path("cut_header.png"), "PNG"});
  std::string corrupt = good;
  corrupt[good.size() / 2] = static_cast<char>(corrupt[good.size() / 2] ^ 0x5a);
  write_bytes(path("crc.png"), corrupt);
  expect_error([&] { read_png(path("crc.png")); }, {path("crc.png"), "malformed PNG"});
  write_bytes(path("sig.png"), "\x89PNX" + good.substr(4));
  expect_error([&] { read_png(path("sig.png")); }, {path("sig.png"), "not a PNG"});
}

TEST_F(ImageIoTest, LoadSampleScalesTo255AndChecksTheSize) {
  write_png(path("s.png"), at::full({4, 6}, 65535.0f), 16);
  Sample sample;
  sample.image_id = "s";
  sample.file = path("s.png");
  sample.width = 6;
  sample.height = 4;
  load_sample_image(sample);
  EXPECT_EQ(sample.bit_depth, 16);
  EXPECT_EQ(sample.image.sizes(), (at::IntArrayRef{4, 6}));
  EXPECT_FLOAT_EQ(sample.image.max().item<float>(), 255.0f);
  sample.width = 5;
  expect_error([&] { load_sample_image(sample); }, {path("s.png"), "6x4", "5x4"});
}

TEST_F(ImageIoTest, MiasPngCopiesDecodeToTheDistributedPgmPixels) {
  for (const char* film : {"mdb001", "mdb144", "mdb322"}) {
    const DecodedImage from_png = read_image(kMias + "/" + film + ".png");
    const DecodedImage from_pgm = read_image(kMiasPgm + "/" + film + ".pgm");
    EXPECT_EQ(from_pgm.info.format, "pgm");
    EXPECT_EQ(from_png.info.width, 1024);
    EXPECT_EQ(from_pgm.info.height, 1024);
    EXPECT_EQ(from_png.info.bit_depth, 8);
    EXPECT_TRUE(from_png.pixels.equal(from_pgm.pixels)) << film;
  }
  // Rebuilding the PGM from the PNG gives the distributed file byte for byte, and its md5.
  const DecodedImage png = read_image(kMias + "/mdb001.png");
  write_pgm(path("mdb001.pgm"), png.pixels, 255);
  EXPECT_EQ(read_bytes(path("mdb001.pgm")), read_bytes(kMiasPgm + "/mdb001.pgm"));
  std::string md5;
  if (std::FILE* p = ::popen(("md5sum " + path("mdb001.pgm")).c_str(), "r")) {
    char buffer[64] = {0};
    if (std::fgets(buffer, 33, p)) md5 = buffer;
    ::pclose(p);
  }
  const std::string sums = read_bytes(kMias + "/MD5SUMS.pgm");
  ASSERT_EQ(md5.size(), 32u);
  EXPECT_NE(sums.find(md5 + "  mdb001.pgm"), std::string::npos) << md5;
}

}  // namespace
