// INbreast reader and the plist parser, on a dataset folder written in the distributed layout:
// AllDICOMs/ (GDCM-written films: MONOCHROME1 and 2, 12 and 14 bits, plain and JPEG-LS),
// AllXML/ (plists with Mass and non-mass ROIs) and INbreast.csv.
#include "mbmd/data/inbreast.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "dicom_fixtures.h"
#include "mbmd/core/error.h"
#include "mbmd/data/dataset.h"
#include "mbmd/data/dicom.h"
#include "mbmd/data/plist.h"

namespace mbmd::data {
namespace {

using test::TempDir;

// ---- plist -------------------------------------------------------------------------------------

TEST(Plist, ParsesEveryValueType) {
  const std::string text = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<!-- a comment -->
<dict>
	<key>Name</key>
	<string>Mass &amp; &lt;more&gt; &#65;&#x42;</string>
	<key>Count</key>
	<integer>-42</integer>
	<key>Area</key>
	<real>12.5e1</real>
	<key>Yes</key>
	<true/>
	<key>No</key>
	<false/>
	<key>Empty</key>
	<string/>
	<key>List</key>
	<array>
		<string>(1.5, 2)</string>
		<dict/>
		<array></array>
	</array>
</dict>
</plist>
)";
  const PlistValue root = parse_plist(text, "t.plist");
  ASSERT_EQ(root.type, PlistValue::Type::dict);
  EXPECT_EQ(root.fields.size(), 7u);
  EXPECT_EQ(root.at("Name").as_string(), "Mass & <more> AB");
  EXPECT_EQ(root.at("Count").integer, -42);
  EXPECT_DOUBLE_EQ(root.at("Count").as_number(), -42.0);
  EXPECT_DOUBLE_EQ(root.at("Area").as_number(), 125.0);
  EXPECT_TRUE(root.at("Yes").boolean);
  EXPECT_EQ(root.at("No").type, PlistValue::Type::boolean);
  EXPECT_FALSE(root.at("No").boolean);
  EXPECT_EQ(root.at("Empty").as_string(), "");
  const auto& list = root.at("List").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].as_string(), "(1.5, 2)");
  EXPECT_EQ(list[1].type, PlistValue::Type::dict);
  EXPECT_EQ(list[2].items.size(), 0u);
  EXPECT_EQ(list[0].line, 20);
  EXPECT_EQ(root.find("Missing"), nullptr);
}

void expect_plist_error(const std::string& text, const std::string& what) {
  try {
    parse_plist(text, "bad.xml");
    FAIL() << "accepted: " << text;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.xml:"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(Plist, MalformedXmlIsAnErrorNamingFileAndLine) {
  expect_plist_error("<plist><dict><key>A</key><string>x</dict></plist>",
                     "mismatched tags: <string> closed by </dict>");
  expect_plist_error("<plist>\n<dict>\n<key>A</key>\n<string>x</string>\n", "bad.xml:5:");
  expect_plist_error("<plist><dict><string>x</string></dict></plist>", "expected <key>");
  expect_plist_error("<plist><dict><key>A</key></dict></plist>", "has no value");
  expect_plist_error("<plist><integer>12a</integer></plist>", "not a number");
  expect_plist_error("<plist><color>red</color></plist>", "unknown plist element <color>");
  expect_plist_error("<plist><string>a &nbsp; b</string></plist>", "unknown entity");
  expect_plist_error("<plist><array></array></plist><plist/>", "after the end");
  expect_plist_error("", "empty document");
  expect_plist_error("<plist><string>never closed", "unexpected end of file");
  expect_plist_error("<plist><dict><key>A</key><string>x</string></dict></plist>\n<!-- open",
                     "unterminated comment");
  const PlistValue ok =
      parse_plist("<plist><dict><key>A</key><integer>1</integer></dict></plist>", "ok.xml");
  EXPECT_THROW(ok.at("B"), Error);
  EXPECT_THROW(ok.at("A").as_string(), Error);
  EXPECT_THROW(ok.as_array(), Error);
}

// ---- INbreast fixtures -------------------------------------------------------------------------

struct Roi {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

// An AllXML file as OsiriX writes it (trimmed to the keys that matter plus some that do not).
std::string inbreast_xml(const std::vector<Roi>& rois) {
  std::string x = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Images</key>
	<array>
		<dict>
			<key>ImageIndex</key>
			<integer>0</integer>
			<key>NumberOfROIs</key>
			<integer>)" +
                  std::to_string(rois.size()) +
                  R"(</integer>
			<key>ROIs</key>
			<array>
)";
  for (const Roi& roi : rois) {
    x += "\t\t\t\t<dict>\n\t\t\t\t\t<key>Area</key>\n\t\t\t\t\t<real>0.5</real>\n";
    x += "\t\t\t\t\t<key>Center</key>\n\t\t\t\t\t<string>(0.0, 0.0, 0.0)</string>\n";
    x += "\t\t\t\t\t<key>Name</key>\n\t\t\t\t\t<string>" + roi.name + "</string>\n";
    x += "\t\t\t\t\t<key>NumberOfPoints</key>\n\t\t\t\t\t<integer>" +
         std::to_string(roi.points.size()) + "</integer>\n";
    x += "\t\t\t\t\t<key>Point_mm</key>\n\t\t\t\t\t<array>\n";
    for (const auto& p : roi.points)
      x += "\t\t\t\t\t\t<string>(" + std::to_string(p.first * 0.07) + ", " +
           std::to_string(p.second * 0.07) + ", 0.000000)</string>\n";
    x += "\t\t\t\t\t</array>\n\t\t\t\t\t<key>Point_px</key>\n\t\t\t\t\t<array>\n";
    for (const auto& p : roi.points)
      x += "\t\t\t\t\t\t<string>(" + std::to_string(p.first) + ", " + std::to_string(p.second) +
           ")</string>\n";
    x += "\t\t\t\t\t</array>\n\t\t\t\t\t<key>Type</key>\n\t\t\t\t\t<integer>15</integer>\n";
    x += "\t\t\t\t</dict>\n";
  }
  x += "\t\t\t</array>\n\t\t</dict>\n\t</array>\n</dict>\n</plist>\n";
  return x;
}

const char* kFilmA = "20586908_6c613a14b80a8591_MG_R_CC_ANON.dcm";  // masses
const char* kFilmB = "20586934_6c613a14b80a8591_MG_L_CC_ANON.dcm";  // no XML
const char* kFilmC = "22614074_0b1e3f8ea7a0c9d2_MG_R_ML_ANON.dcm";  // non-mass ROIs only

// The dataset folder; returns the root.
void write_inbreast(const TempDir& dir, bool with_csv = true) {
  std::filesystem::create_directories(dir / "AllDICOMs");
  test::write_dicom(dir / ("AllDICOMs/" + std::string(kFilmA)), test::inbreast_film_spec('A'));
  test::write_dicom(dir / ("AllDICOMs/" + std::string(kFilmB)), test::inbreast_film_spec('B'));
  test::write_dicom(dir / ("AllDICOMs/" + std::string(kFilmC)), test::inbreast_film_spec('C'));

  test::write_text(dir / "AllXML/20586908.xml",
                   inbreast_xml({{"Mass", {{10, 5}, {30, 8}, {25, 20}, {12.5, 18}}},
                                 {"Calcification", {{40, 40}}},
                                 {"Mass", {{50, 30}, {60, 31}, {55, 44}}}}));
  test::write_text(dir / "AllXML/22614074.xml",
                   inbreast_xml({{"Spiculated Region", {{5, 6}, {20, 25}}},
                                 {"Calcification", {{1, 2}}},
                                 {"Cluster", {{3, 3}, {9, 9}, {4, 8}}}}));
  if (with_csv)
    test::write_text(dir / "INbreast.csv",
                     "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;"
                     "Bi-Rads\r\n"
                     "removed;51;R;CC;201001;20586908;2;5\r\n"
                     "removed;51;L;CC;201001;20586934;2;1\r\n"
                     "removed;47;R;MLO;200911;22614074;3;4a\r\n");
}

std::vector<float> boxes_of(const Sample& s) {
  at::Tensor b = s.boxes.contiguous();
  return std::vector<float>(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
}

std::vector<int64_t> labels_of(const Sample& s) {
  at::Tensor l = s.labels.contiguous();
  return std::vector<int64_t>(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
}

TEST(Inbreast, FileNamesGiveIdPatientLateralityView) {
  const InbreastFileName n = parse_inbreast_file_name(std::string("/x/AllDICOMs/") + kFilmC);
  EXPECT_EQ(n.image_id, "22614074");
  EXPECT_EQ(n.patient_id, "0b1e3f8ea7a0c9d2");
  EXPECT_EQ(n.laterality, "R");
  EXPECT_EQ(n.view, "MLO");
  EXPECT_THROW(parse_inbreast_file_name("20586908_abc_MG_X_CC_ANON.dcm"), Error);
  EXPECT_THROW(parse_inbreast_file_name("20586908.dcm"), Error);
  EXPECT_THROW(parse_inbreast_file_name("2058690a_abc_MG_R_CC_ANON.dcm"), Error);
}

TEST(Inbreast, MassesBoxesPatientsAndPixels) {
  TempDir dir;
  write_inbreast(dir);
  DatasetOptions options;
  options.root = dir.str();
  const Dataset ds = read_inbreast(options);
  EXPECT_EQ(ds.name, "inbreast");
  ASSERT_EQ(ds.categories, std::vector<std::string>{"mass"});
  ASSERT_EQ(ds.samples.size(), 3u);
  EXPECT_TRUE(ds.skipped.empty());

  const Sample& a = ds.samples[0];
  EXPECT_EQ(a.image_id, "20586908");
  EXPECT_EQ(a.patient_id, "6c613a14b80a8591");
  EXPECT_EQ(a.laterality, "R");
  EXPECT_EQ(a.view, "CC");
  EXPECT_EQ(a.width, 64);
  EXPECT_EQ(a.height, 48);
  EXPECT_EQ(a.bit_depth, 14);
  EXPECT_EQ(a.frame, -1);
  EXPECT_FALSE(a.image.defined());
  // Bounding boxes of the two mass contours; the calcification is not a mass.
  EXPECT_EQ(boxes_of(a), (std::vector<float>{10, 5, 30, 20, 50, 30, 60, 44}));
  EXPECT_EQ(labels_of(a), (std::vector<int64_t>{0, 0}));

  const Sample& b = ds.samples[1];  // no XML: no findings
  EXPECT_EQ(b.image_id, "20586934");
  EXPECT_EQ(b.patient_id, a.patient_id);
  EXPECT_EQ(b.laterality, "L");
  EXPECT_EQ(b.bit_depth, 12);
  EXPECT_EQ(b.boxes.size(0), 0);
  EXPECT_EQ(b.boxes.size(1), 4);
  const Sample& c = ds.samples[2];  // only non-mass ROIs
  EXPECT_EQ(c.patient_id, "0b1e3f8ea7a0c9d2");
  EXPECT_EQ(c.view, "MLO");
  EXPECT_EQ(c.boxes.size(0), 0);

  DatasetSummary summary = summarize(ds);
  EXPECT_EQ(summary.images, 3);
  EXPECT_EQ(summary.boxes, 2);
  EXPECT_EQ(summary.patients, 2);

  // Pixels after the LUTs: film A is windowed (LINEAR, c 8000, w 12000).
  Sample loaded = a;
  load_dicom_sample(loaded);
  ASSERT_EQ(loaded.image.dim(), 2);
  EXPECT_EQ(loaded.image.size(0), 48);
  EXPECT_EQ(loaded.image.size(1), 64);
  const auto values = test::inbreast_film_values(14, 1);
  for (int i : {0, 1, 77, 1000, 3071}) {
    const double x = values[i];
    double e = ((x - 7999.5) / 11999.0 + 0.5) * 255.0;
    e = std::min(255.0, std::max(0.0, e));
    EXPECT_NEAR(loaded.image.flatten()[i].item<float>(), e, 1e-3) << i;
  }
  // Film B: MONOCHROME1 JPEG-LS without a window: stretched and inverted.
  Sample lb = b;
  load_dicom_sample(lb);
  const auto vb = test::inbreast_film_values(12, 2);
  const double lo = *std::min_element(vb.begin(), vb.end());
  const double hi = *std::max_element(vb.begin(), vb.end());
  for (int i : {0, 5, 999, 3000})
    EXPECT_NEAR(lb.image.flatten()[i].item<float>(), 255.0 - (vb[i] - lo) / (hi - lo) * 255.0,
                1e-3);

  // Through the dataset table, as `mbmd convert inbreast` reads it.
  const Dataset named = read_dataset("inbreast", options);
  ASSERT_EQ(named.samples.size(), 3u);
  Sample via_table = named.samples[0];
  load_sample_image(via_table);
  EXPECT_TRUE(at::equal(via_table.image, loaded.image));

  options.masses_only = true;
  const Dataset masses = read_inbreast(options);
  ASSERT_EQ(masses.samples.size(), 1u);
  EXPECT_EQ(masses.samples[0].image_id, "20586908");
}

TEST(Inbreast, OtherRoiNamesAreSelectable) {
  TempDir dir;
  write_inbreast(dir, /*with_csv=*/false);
  DatasetOptions options;
  options.root = dir.str();
  options.classes = {"Mass", "spiculated region", "Calcification"};
  options.separate_classes = true;
  const Dataset ds = read_inbreast(options);
  EXPECT_EQ(ds.categories, options.classes);
  ASSERT_EQ(ds.samples.size(), 3u);
  // A single-point calcification covers its pixel.
  EXPECT_EQ(boxes_of(ds.samples[0]),
            (std::vector<float>{10, 5, 30, 20, 40, 40, 41, 41, 50, 30, 60, 44}));
  EXPECT_EQ(labels_of(ds.samples[0]), (std::vector<int64_t>{0, 2, 0}));
  EXPECT_EQ(boxes_of(ds.samples[2]), (std::vector<float>{5, 6, 20, 25, 1, 2, 2, 3}));
  EXPECT_EQ(labels_of(ds.samples[2]), (std::vector<int64_t>{1, 2}));

  options.separate_classes = false;
  const Dataset merged = read_inbreast(options);
  EXPECT_EQ(merged.categories, std::vector<std::string>{"Mass+spiculated region+Calcification"});
  EXPECT_EQ(labels_of(merged.samples[2]), (std::vector<int64_t>{0, 0}));
}

void expect_read_error(const DatasetOptions& options, const std::vector<std::string>& parts) {
  try {
    read_inbreast(options);
    FAIL() << "no error";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Inbreast, BadInputNamesTheFileAndCanBeSkipped) {
  TempDir dir;
  write_inbreast(dir);
  DatasetOptions options;
  options.root = dir.str();

  // Malformed XML.
  test::write_text(dir / "AllXML/20586908.xml",
                   "<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict>\n<key>Images</key>\n"
                   "<array>\n<dict>\n</array>\n</dict>\n</plist>\n");
  expect_read_error(options, {dir / "AllXML/20586908.xml", ":7:", "mismatched tags"});
  options.skip_bad = true;
  Dataset partial = read_inbreast(options);
  EXPECT_EQ(partial.samples.size(), 2u);
  ASSERT_EQ(partial.skipped.size(), 1u);
  EXPECT_NE(partial.skipped[0].item.find(kFilmA), std::string::npos);
  EXPECT_NE(partial.skipped[0].reason.find("mismatched tags"), std::string::npos);
  options.skip_bad = false;

  // A box outside the image.
  test::write_text(dir / "AllXML/20586908.xml", inbreast_xml({{"Mass", {{10, 5}, {70, 20}}}}));
  expect_read_error(options, {"20586908.xml", "outside the 64x48 image"});

  // An annotation for a missing film.
  test::write_text(dir / "AllXML/20586908.xml", inbreast_xml({{"Mass", {{10, 5}, {20, 20}}}}));
  test::write_text(dir / "AllXML/99999999.xml", inbreast_xml({{"Mass", {{1, 1}, {2, 2}}}}));
  expect_read_error(options, {"99999999.xml", "has no film"});
  std::filesystem::remove(dir / "AllXML/99999999.xml");

  // A point that is not "(x, y)".
  test::write_text(dir / "AllXML/20586908.xml", inbreast_xml({{"Mass", {{1, 1}}}}));
  {
    std::string x = inbreast_xml({{"Mass", {{10, 5}, {20, 20}}}});
    x.replace(x.find("(10.000000, 5.000000)"), 21, "(10.000000; 5.000000)");
    test::write_text(dir / "AllXML/20586908.xml", x);
  }
  expect_read_error(options, {"20586908.xml", "is not \"(x, y)\""});
  test::write_text(dir / "AllXML/20586908.xml", inbreast_xml({}));

  // The CSV missing a column, naming a missing film, or disagreeing with a file name.
  test::write_text(dir / "INbreast.csv", "Patient ID;Laterality;View;ACR\nremoved;R;CC;2\n");
  expect_read_error(options, {dir / "INbreast.csv", "column 'File Name' is missing"});
  test::write_text(dir / "INbreast.csv", "Laterality;View;File Name\nR;CC;12345678\n");
  expect_read_error(options, {dir / "INbreast.csv:2", "12345678", "has no film"});
  test::write_text(dir / "INbreast.csv", "Laterality;View;File Name\nL;CC;20586908\n");
  expect_read_error(options, {"INbreast.csv:2", "disagree"});
  std::filesystem::remove(dir / "INbreast.csv");

  // A film without pixel data.
  test::write_dicom_without_pixels(dir / ("AllDICOMs/" + std::string(kFilmA)));
  expect_read_error(options, {kFilmA, "no pixel data"});

  // A film whose name does not follow the pattern.
  test::write_text(dir / "AllDICOMs/scan.dcm", "x");
  options.skip_bad = true;
  Dataset skipped = read_inbreast(options);
  EXPECT_EQ(skipped.samples.size(), 2u);
  EXPECT_EQ(skipped.skipped.size(), 2u);
}

}  // namespace
}  // namespace mbmd::data
