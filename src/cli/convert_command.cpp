// `mbmd convert <dataset>`: reads a dataset as distributed and writes COCO json (and optionally
// the images as 8- or 16-bit grey PNGs), so the same data and splits can be used with mmdetection
// or torchvision. The dataset names are those of mbmd::data::read_dataset.
#include <iostream>
#include <sstream>

#include "arg_parser.h"
#include "command.h"
#include "mbmd/core/error.h"
#include "mbmd/data/dataset.h"
#include "mbmd/workflows/convert.h"

namespace mbmd::cli {
namespace {

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> items;
  for (const auto& value : values) {
    std::stringstream stream(value);
    for (std::string item; std::getline(stream, item, ',');)
      if (!item.empty()) items.push_back(item);
  }
  return items;
}

}  // namespace

int convert_command(const Args& args) {
  std::string names;
  for (const auto& [name, description] : data::dataset_names())
    names +=
        "\n  " + name + std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') + description;
  ArgParser parser("convert",
                   "Reads a dataset as distributed and writes COCO json: bbox [x, y, w, h] with "
                   "w = x2 - x1, images[].patient_id.\nDatasets:" +
                       names);
  parser.positional("DATASET", "the dataset's name (see above)")
      .option("root", "the dataset folder as distributed")
      .option("out", "the COCO json file to write")
      .option("images-out", "also write the images as grey PNGs into this folder")
      .option("bits", "PNG bit depth, 8 or 16 (default: 16 for images deeper than 8 bits, else 8)")
      .flag("masses-only", "keep only images with at least one box (the paper's selection)")
      .option("classes",
              "lesion classes or ROI names that become boxes, comma separated (default: masses)",
              "", true)
      .flag("separate-classes", "one category per class instead of one for all")
      .flag("keep-unlocated",
            "keep images with a lesion at an unknown place, flagged lesion_without_location")
      .flag("skip-bad",
            "skip bad items (missing files, bad rows, boxes outside the image) and "
            "report them instead of stopping")
      .option("opt", "a reader-specific setting KEY=VALUE", "", true);
  if (!parser.parse(args)) return 0;
  if (parser.positionals().size() != 1)
    throw Error("convert needs the dataset's name (see mbmd convert --help)");
  const std::string name = parser.positionals()[0];
  if (!parser.has("root")) throw Error("convert needs --root DIR");
  if (!parser.has("out")) throw Error("convert needs --out FILE.json");
  int bits = 0;
  if (parser.has("bits")) {
    bits = parser.get_int("bits");
    if (bits != 8 && bits != 16)
      throw Error("option --bits: expected 8 or 16, got " + parser.get("bits"));
  }

  data::DatasetOptions options;
  options.root = parser.get("root");
  options.classes = split_list(parser.get_all("classes"));
  options.separate_classes = parser.has("separate-classes");
  options.masses_only = parser.has("masses-only");
  options.keep_unlocated = parser.has("keep-unlocated");
  options.skip_bad = parser.has("skip-bad");
  for (const auto& assignment : parser.get_all("opt")) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("option --opt: expected KEY=VALUE, got '" + assignment + "'");
    options.extra[assignment.substr(0, eq)] = assignment.substr(eq + 1);
  }

  engine::ConvertOptions convert;
  convert.dataset = name;
  convert.read = options;
  convert.out = parser.get("out");
  if (parser.has("images-out")) convert.images_out = parser.get("images-out");
  convert.bits = bits;
  const data::Dataset dataset = engine::convert_dataset(convert);

  const data::DatasetSummary s = data::summarize(dataset);
  std::cout << name << ": " << s.images << " images (" << s.images_with_boxes << " with boxes), "
            << s.boxes << " boxes, " << s.patients << " patients";
  if (s.unlocated) std::cout << ", " << s.unlocated << " flagged lesion_without_location";
  std::cout << "; " << s.excluded << " left out, " << s.skipped << " skipped\n";
  for (const auto& item : dataset.excluded)
    std::cout << "  left out " << item.item << ": " << item.reason << "\n";
  for (const auto& item : dataset.skipped)
    std::cout << "  skipped " << item.item << ": " << item.reason << "\n";
  std::cout << "wrote " << parser.get("out") << "\n";
  return 0;
}

}  // namespace mbmd::cli
