#include "mbmd/data/synthetic/phantom.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "mbmd/core/error.h"
#include "mbmd/core/seed.h"
#include "mbmd/data/coco.h"
#include "mbmd/data/png.h"

namespace mbmd::data {
namespace fs = std::filesystem;
namespace {

constexpr double kPi = 3.14159265358979323846;

// Uniform numbers from std::mt19937_64 through our own arithmetic (std::uniform_*_distribution
// differs between standard libraries), so a film is the same everywhere.
class FilmRandom {
 public:
  explicit FilmRandom(uint64_t seed) : rng_(seed) {}
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Box-Muller; good enough for texture.
  double normal() {
    const double u1 = std::max(uniform(), 1e-12), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  }

 private:
  std::mt19937_64 rng_;
};

// A smooth random field on [H, W]: random values on a coarse grid of cells_y x cells_x, upsampled
// bicubically. Values are roughly standard normal.
at::Tensor smooth_field(FilmRandom& random, int cells_y, int cells_x, int height, int width) {
  std::vector<float> values(static_cast<size_t>(cells_y) * cells_x);
  for (auto& v : values) v = static_cast<float>(random.normal());
  const at::Tensor grid =
      at::from_blob(values.data(), {1, 1, cells_y, cells_x}, at::kFloat).clone();
  return at::upsample_bicubic2d(grid, {height, width}, /*align_corners=*/true)
      .view({height, width});
}

at::Tensor soft_step(const at::Tensor& x) { return at::sigmoid(x); }

// The core ellipse's axis-aligned bounding box.
std::array<double, 4> mass_box(const PhantomMass& m) {
  const double c = std::cos(m.angle), s = std::sin(m.angle);
  const double hx = std::sqrt(m.rx * m.rx * c * c + m.ry * m.ry * s * s);
  const double hy = std::sqrt(m.rx * m.rx * s * s + m.ry * m.ry * c * c);
  return {m.cx - hx, m.cy - hy, m.cx + hx, m.cy + hy};
}

}  // namespace

void check_phantom_options(const PhantomOptions& o) {
  auto fail = [](const std::string& what) { throw Error("phantom: " + what); };
  if (o.patients < 1) fail("patients must be >= 1, got " + std::to_string(o.patients));
  if (o.width < 64 || o.height < 64)
    fail("films must be at least 64x64 pixels, got " + std::to_string(o.width) + "x" +
         std::to_string(o.height));
  if (!(o.normal_fraction >= 0.0 && o.normal_fraction <= 1.0))
    fail("normal_fraction must be in [0, 1], got " + std::to_string(o.normal_fraction));
  if (!(o.two_mass_fraction >= 0.0 && o.two_mass_fraction <= 1.0))
    fail("two_mass_fraction must be in [0, 1], got " + std::to_string(o.two_mass_fraction));
  if (!(o.min_radius > 0.0 && o.min_radius <= o.max_radius && o.max_radius <= 0.25))
    fail("radii must satisfy 0 < min_radius <= max_radius <= 0.25, got " +
         std::to_string(o.min_radius) + " and " + std::to_string(o.max_radius));
  if (!(o.min_contrast > 0.0 && o.min_contrast <= o.max_contrast && o.max_contrast <= 150.0))
    fail("contrasts must satisfy 0 < min_contrast <= max_contrast <= 150");
  if (!(o.spiculated_fraction >= 0.0 && o.spiculated_fraction <= 1.0))
    fail("spiculated_fraction must be in [0, 1]");
}

namespace {

// The film's pixel grid and the breast's outline: half an ellipse whose centre lies on the chest
// wall (x = 0), with semi-axes ax (across) and by (down) around the height cy0.
struct FilmGeometry {
  int H = 0, W = 0;
  at::Tensor xs, ys;  // pixel coordinates, [H, W]
  double ax = 0, by = 0, cy0 = 0;
  at::Tensor rho;  // normalised elliptic distance from the chest-wall centre (1 on the skin line)
  double px = 0, py = 0;  // the pectoral triangle's legs along x and y
};

FilmGeometry film_geometry(FilmRandom& random, int height, int width) {
  FilmGeometry g;
  g.H = height;
  g.W = width;
  g.ys = at::arange(g.H, at::kFloat).view({g.H, 1}).expand({g.H, g.W});
  g.xs = at::arange(g.W, at::kFloat).view({1, g.W}).expand({g.H, g.W});
  g.ax = width * random.uniform(0.72, 0.93);
  g.by = height * random.uniform(0.36, 0.46);
  g.cy0 = height * random.uniform(0.47, 0.56);
  g.rho = at::sqrt((g.xs / g.ax).pow(2) + ((g.ys - g.cy0) / g.by).pow(2));
  return g;
}

// Fibroglandular texture (three octaves of smooth noise, denser near the chest wall) on a
// compressed breast thinner towards the skin line, and the pectoral muscle: a bright triangle in
// the upper chest-wall corner (MLO view). Sets the pectoral legs of `g`.
at::Tensor breast_tissue(FilmRandom& random, FilmGeometry& g) {
  const double Wd = g.W, Hd = g.H;
  const at::Tensor thickness = at::sqrt(at::clamp(1.0 - g.rho * g.rho, 0.0, 1.0));
  const double density = random.uniform(0.3, 1.0);
  at::Tensor texture = smooth_field(random, 6, 5, g.H, g.W) +
                       0.5 * smooth_field(random, 12, 10, g.H, g.W) +
                       0.25 * smooth_field(random, 24, 20, g.H, g.W);
  texture = texture * (0.6 + 0.4 * (1.0 - g.xs / Wd));
  at::Tensor tissue = 62.0 + 48.0 * at::pow(thickness, 0.6) + 22.0 * density * texture;
  g.px = Wd * random.uniform(0.22, 0.38);
  g.py = Hd * random.uniform(0.3, 0.5);
  const at::Tensor pectoral_dist = (1.0 - g.xs / g.px - g.ys / g.py) * std::min(g.px, g.py);
  const at::Tensor pectoral = soft_step(pectoral_dist / 2.0);
  return tissue + pectoral * random.uniform(35.0, 60.0);
}

// A mass's shape and border, drawn before its place.
struct MassShape {
  PhantomMass mass;
  double radius = 0;
  double edge = 0;  // soft border, as a fraction of the radius
  int spikes = 0;
  double spike_phase = 0;
};

MassShape draw_mass_shape(FilmRandom& random, const PhantomOptions& o, double width) {
  MassShape shape;
  PhantomMass& m = shape.mass;
  shape.radius = width * std::exp(random.uniform(std::log(o.min_radius), std::log(o.max_radius)));
  const double aspect = random.uniform(0.6, 1.0);
  m.rx = shape.radius;
  m.ry = shape.radius * aspect;
  m.angle = random.uniform(0.0, kPi);
  m.contrast = random.uniform(o.min_contrast, o.max_contrast);
  m.spiculated = random.uniform() < o.spiculated_fraction;
  shape.edge = random.uniform(0.08, 0.2);
  shape.spikes = 7 + static_cast<int>(random.uniform(0.0, 5.0));
  shape.spike_phase = random.uniform(0.0, 2.0 * kPi);
  return shape;
}

// Picks a centre inside the breast (away from the skin line and the pectoral corner) whose core
// does not touch another mass; false when none fits in 60 tries (the film keeps fewer masses).
bool place_mass(FilmRandom& random, const FilmGeometry& g, const std::vector<PhantomMass>& others,
                MassShape& shape) {
  PhantomMass& m = shape.mass;
  for (int attempt = 0; attempt < 60; ++attempt) {
    const double t = random.uniform(-0.5 * kPi, 0.5 * kPi);
    const double s = std::sqrt(random.uniform(0.02, 1.0)) * 0.72;
    m.cx = g.ax * s * std::cos(t);
    m.cy = g.cy0 + g.by * s * std::sin(t);
    const auto box = mass_box(m);
    if (box[0] < 2 || box[1] < 2 || box[2] > g.W - 2.0 || box[3] > g.H - 2.0) continue;
    // Every box corner inside the outline, the centre outside the pectoral triangle.
    bool inside = true;
    for (double x : {box[0], box[2]})
      for (double y : {box[1], box[3]})
        inside &= (x / g.ax) * (x / g.ax) + ((y - g.cy0) / g.by) * ((y - g.cy0) / g.by) < 0.95;
    if (!inside || 1.0 - m.cx / g.px - m.cy / g.py > -0.1) continue;
    bool apart = true;
    for (const auto& other : others)
      apart &= std::hypot(m.cx - other.cx, m.cy - other.cy) > 1.3 * (shape.radius + other.rx);
    if (apart) return true;
  }
  return false;
}

// The mass's brightness over the film: a soft-bordered ellipse, spiculated when so drawn.
at::Tensor mass_profile(const MassShape& shape, const FilmGeometry& g) {
  const PhantomMass& m = shape.mass;
  // Normalised elliptic distance in the mass's own frame.
  const double c = std::cos(m.angle), s = std::sin(m.angle);
  const at::Tensor u = (g.xs - m.cx) * c + (g.ys - m.cy) * s;
  const at::Tensor v = -(g.xs - m.cx) * s + (g.ys - m.cy) * c;
  at::Tensor d = at::sqrt((u / m.rx).pow(2) + (v / m.ry).pow(2));
  if (m.spiculated) {
    // Thin spikes: the border reaches out up to 60 % further along `spikes` directions.
    const at::Tensor theta = at::atan2(v, u);
    const at::Tensor spike =
        at::pow(at::clamp(at::cos(theta * shape.spikes + shape.spike_phase), 0.0, 1.0), 16);
    d = d / (1.0 + 0.6 * spike);
  }
  const at::Tensor profile =
      soft_step((1.0 - d) / shape.edge) * (0.8 + 0.2 * at::clamp(1.0 - d * d, 0.0, 1.0));
  return profile * m.contrast;
}

// None, one or two masses (by the options' fractions) drawn into `film.masses`; their layer.
at::Tensor add_masses(FilmRandom& random, const PhantomOptions& o, const FilmGeometry& g,
                      PhantomFilm& film) {
  const int film_masses =
      random.uniform() < o.normal_fraction ? 0 : (random.uniform() < o.two_mass_fraction ? 2 : 1);
  at::Tensor layer = at::zeros({g.H, g.W}, at::kFloat);
  for (int k = 0; k < film_masses; ++k) {
    MassShape shape = draw_mass_shape(random, o, g.W);
    if (!place_mass(random, g, film.masses, shape)) continue;
    layer = at::maximum(layer, mass_profile(shape, g));
    film.masses.push_back(shape.mass);
  }
  return layer;
}

at::Tensor pixel_noise(FilmRandom& random, int height, int width) {
  at::Tensor fine = at::empty({height, width}, at::kFloat);
  auto acc = fine.accessor<float, 2>();
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) acc[y][x] = static_cast<float>(random.normal());
  return fine;
}

// The masses' core boxes, clipped to the film: [N, 4] x1, y1, x2, y2.
at::Tensor mass_boxes(const std::vector<PhantomMass>& masses, double width, double height) {
  std::vector<float> boxes;
  for (const auto& m : masses) {
    const auto b = mass_box(m);
    boxes.insert(
        boxes.end(),
        {static_cast<float>(std::max(0.0, b[0])), static_cast<float>(std::max(0.0, b[1])),
         static_cast<float>(std::min(width, b[2])), static_cast<float>(std::min(height, b[3]))});
  }
  return at::from_blob(boxes.data(), {static_cast<int64_t>(masses.size()), 4}, at::kFloat).clone();
}

// The right breast is the mirror image: chest wall on the right edge.
void mirror_to_right(PhantomFilm& film, double width) {
  film.image = film.image.flip({1});
  film.breast_mask = film.breast_mask.flip({1});
  for (auto& m : film.masses) {
    m.cx = width - m.cx;
    m.angle = kPi - m.angle;
  }
  if (film.boxes.size(0) > 0) {
    const at::Tensor x1 = width - film.boxes.select(1, 2), x2 = width - film.boxes.select(1, 0);
    film.boxes = at::stack({x1, film.boxes.select(1, 1), x2, film.boxes.select(1, 3)}, 1);
  }
}

}  // namespace

PhantomFilm render_phantom_film(const PhantomOptions& o, int index) {
  check_phantom_options(o);
  if (index < 0 || index >= 2 * o.patients)
    throw Error("phantom: film index " + std::to_string(index) + " outside 0.." +
                std::to_string(2 * o.patients - 1));
  FilmRandom random(derive_seed(o.seed, static_cast<uint64_t>(index)));
  FilmGeometry g = film_geometry(random, o.height, o.width);
  const double edge_px = 1.5;
  const at::Tensor mask = soft_step((1.0 - g.rho) * std::min(g.ax, g.by) / edge_px);
  const at::Tensor tissue = breast_tissue(random, g);
  PhantomFilm film;
  const at::Tensor masses_layer = add_masses(random, o, g, film);
  // Dark background with a little noise; quantum-like noise over everything.
  const at::Tensor fine = pixel_noise(random, g.H, g.W);
  film.image = at::clamp(6.0 + mask * (tissue + masses_layer) + 2.5 * fine, 0.0, 255.0);
  film.breast_mask = g.rho < 1.0;
  film.boxes = mass_boxes(film.masses, g.W, g.H);
  film.laterality = index % 2 == 0 ? "L" : "R";
  if (film.laterality == "R") mirror_to_right(film, g.W);
  film.image = film.image.contiguous();
  film.breast_mask = film.breast_mask.contiguous();
  return film;
}

std::string write_phantom(const PhantomOptions& options, const std::string& folder,
                          data::Dataset* out) {
  check_phantom_options(options);
  if (fs::exists(folder) && !fs::is_directory(folder))
    throw Error("phantom: " + folder + " is a file, not a folder");
  const fs::path root(folder);
  fs::create_directories(root / "images");
  data::Dataset dataset;
  dataset.name = "phantom";
  dataset.root = folder;
  dataset.categories = {"mass"};
  for (int i = 0; i < 2 * options.patients; ++i) {
    const PhantomFilm film = render_phantom_film(options, i);
    char id[32], patient[32];
    std::snprintf(id, sizeof id, "phantom_%04d", i + 1);
    std::snprintf(patient, sizeof patient, "P%04d", i / 2 + 1);
    data::Sample s;
    s.image_id = id;
    s.file = (root / "images" / (std::string(id) + ".png")).string();
    s.patient_id = patient;
    s.laterality = film.laterality;
    s.view = "MLO";
    s.width = options.width;
    s.height = options.height;
    s.bit_depth = 8;
    s.boxes = film.boxes;
    s.labels = at::zeros({film.boxes.size(0)}, at::kLong);
    data::write_png(s.file, film.image, 8);
    dataset.samples.push_back(std::move(s));
  }
  const std::string json = (root / "phantom.json").string();
  data::CocoWriteOptions write_options;
  write_options.image_root = folder;
  data::write_coco(json, dataset, write_options);
  if (out) *out = std::move(dataset);
  return json;
}

}  // namespace mbmd::data
