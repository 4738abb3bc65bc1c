// Size limits checked from headers, before pixel memory is allocated.
#include "mbmd/data/image_limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "expect_error.h"
#include "mbmd/core/error.h"
#include "mbmd/data/image_io.h"
#include "mbmd/data/png.h"

namespace mbmd::data {
namespace {

namespace fs = std::filesystem;

// Restores the default limits whatever a test set.
class ImageLimitsTest : public ::testing::Test {
 protected:
  void TearDown() override { set_image_limits(ImageLimits{}); }
};

TEST_F(ImageLimitsTest, SizesOverTheLimitsAreNamedWithTheirKey) {
  EXPECT_NO_THROW(check_image_size("film.png", 4000, 5600));
  EXPECT_NO_THROW(check_image_size("dbt.dcm", 2500, 2000, 100));
  testing::expect_error([] { check_image_size("bomb.png", 60000, 60000); },
                        {"bomb.png", "60000x60000", "data.max_pixels"});
  testing::expect_error([] { check_image_size("deep.dcm", 100, 100, 5000); },
                        {"deep.dcm", "5000 frames", "data.max_frames"});
  // No overflow on sizes whose product does not fit 64 bits.
  EXPECT_THROW(check_image_size("huge", int64_t{1} << 40, int64_t{1} << 40), Error);
  EXPECT_THROW(set_image_limits({0, 10}), Error);
}

TEST_F(ImageLimitsTest, PngOverTheLimitIsRefusedBeforeDecoding) {
  const fs::path file =
      fs::temp_directory_path() / ("mbmd_limits_" + std::to_string(::getpid()) + ".png");
  write_png(file.string(), at::zeros({20, 30}), 8);
  EXPECT_EQ(read_image(file.string()).pixels.size(1), 30);
  set_image_limits({599, 10});
  testing::expect_error([&] { read_image(file.string()); },
                        {file.string(), "30x20", "data.max_pixels"});
  EXPECT_EQ(read_image_info(file.string()).width, 30);  // the header alone is still readable
  fs::remove(file);
}

}  // namespace
}  // namespace mbmd::data
