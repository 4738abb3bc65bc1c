// What reading DICOM in a decoder program of its own costs (docs/reliability.md): per file, GDCM
// in this process against mbmd::data::read_dicom, which runs the decoder program and reads its
// answer. Without files: a mini-MIAS-sized film, a full-field mammogram and the middle frame of
// a tomosynthesis volume, uncompressed, written here.
//
// usage: mbmd_bench_dicom [ROUNDS [FILE...]]   (default 5 rounds; medians are printed)
#include <gdcmBoxRegion.h>
#include <gdcmImageReader.h>
#include <gdcmImageRegionReader.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "data/dicom_fixtures.h"
#include "mbmd/data/dicom.h"

namespace {

using Clock = std::chrono::steady_clock;

double median_ms(int rounds, const std::function<void()>& work) {
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// One frame, as predict reads a volume; frame -1: the whole image.
void gdcm_in_process(const std::string& path, int frame) {
  if (frame >= 0) {
    gdcm::ImageRegionReader reader;
    reader.SetFileName(path.c_str());
    if (!reader.ReadInformation()) throw std::runtime_error("GDCM cannot read " + path);
    const unsigned* dims = reader.GetImage().GetDimensions();
    gdcm::BoxRegion box;
    box.SetDomain(0, dims[0] - 1, 0, dims[1] - 1, frame, frame);
    reader.SetRegion(box);
    std::vector<char> buffer(reader.ComputeBufferLength());
    reader.ReadIntoBuffer(buffer.data(), buffer.size());
    return;
  }
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read()) throw std::runtime_error("GDCM cannot read " + path);
  std::vector<char> buffer(reader.GetImage().GetBufferLength());
  reader.GetImage().GetBuffer(buffer.data());
}

void put(std::string& out, uint16_t group, uint16_t element, const char* vr,
         const std::string& value) {
  const auto u16 = [&](uint32_t v) { out.append({char(v & 0xff), char((v >> 8) & 0xff)}); };
  u16(group);
  u16(element);
  out.append(vr, 2);
  if (std::string(vr) == "OB" || std::string(vr) == "OW") {
    u16(0);
    u16(value.size() & 0xffff);
    u16(value.size() >> 16);
  } else {
    u16(static_cast<uint32_t>(value.size()));
  }
  out += value;
}

std::string u16_value(uint32_t v) { return {char(v & 0xff), char((v >> 8) & 0xff)}; }

// An uncompressed 12-bit mammogram (explicit VR little endian) of random words, with `frames`
// frames.
std::string write_film(const std::string& path, int rows, int cols, int frames) {
  const std::string syntax("1.2.840.10008.1.2.1\0", 20), sop("1.2.840.10008.5.1.4.1.1.1.2", 28);
  std::string meta;
  put(meta, 2, 1, "OB", std::string("\0\1", 2));
  put(meta, 2, 2, "UI", sop);
  put(meta, 2, 3, "UI", std::string("1.2.3.4\0", 8));
  put(meta, 2, 0x10, "UI", syntax);
  std::string file(128, '\0');
  file += "DICM";
  put(file, 2, 0, "UL",
      std::string({char(meta.size() & 0xff), char((meta.size() >> 8) & 0xff), 0, 0}));
  file += meta;
  put(file, 8, 0x16, "UI", sop);
  put(file, 8, 0x60, "CS", "MG");
  put(file, 0x28, 2, "US", u16_value(1));
  put(file, 0x28, 4, "CS", "MONOCHROME2 ");
  if (frames > 1) put(file, 0x28, 8, "IS", std::to_string(frames) + (frames >= 10 ? "" : " "));
  put(file, 0x28, 0x10, "US", u16_value(rows));
  put(file, 0x28, 0x11, "US", u16_value(cols));
  put(file, 0x28, 0x100, "US", u16_value(16));
  put(file, 0x28, 0x101, "US", u16_value(12));
  put(file, 0x28, 0x102, "US", u16_value(11));
  put(file, 0x28, 0x103, "US", u16_value(0));
  std::string pixels(static_cast<size_t>(rows) * cols * frames * 2, '\0');
  std::mt19937 rng(7);
  for (size_t i = 0; i < pixels.size(); i += 2) pixels[i] = static_cast<char>(rng() & 0xff);
  put(file, 0x7fe0, 0x10, "OW", pixels);
  std::ofstream(path, std::ios::binary) << file;
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  mbmd::test::TempDir dir;
  struct Case {
    std::string file;
    int frame;
  };
  std::vector<Case> cases;
  for (int i = 2; i < argc; ++i) cases.push_back({argv[i], -1});
  if (cases.empty()) {
    cases.push_back({write_film(dir / "mias_1024.dcm", 1024, 1024, 1), -1});
    cases.push_back({write_film(dir / "film_5600x4000.dcm", 5600, 4000, 1), -1});
    cases.push_back({write_film(dir / "dbt_2000x2500x8.dcm", 2000, 2500, 8), 4});
  }
  std::printf("%-24s %12s %14s %10s\n", "file", "GDCM here ms", "read_dicom ms", "extra ms");
  for (const Case& c : cases) {
    mbmd::data::DicomOptions options;
    options.modality_only = true;  // the LUT arithmetic is the same either way
    options.frame = c.frame;
    const double here = median_ms(rounds, [&] { gdcm_in_process(c.file, c.frame); });
    const double isolated = median_ms(rounds, [&] { mbmd::data::read_dicom(c.file, options); });
    const std::string name = std::filesystem::path(c.file).filename().string() +
                             (c.frame >= 0 ? " frame " + std::to_string(c.frame) : "");
    std::printf("%-24s %12.1f %14.1f %10.1f\n", name.c_str(), here, isolated, isolated - here);
  }
  return 0;
}
