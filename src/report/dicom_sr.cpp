#include "mbmd/report/dicom_sr.h"

#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/codes/umls.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <utility>

#include "mbmd/core/atomic_file.h"
#include "mbmd/core/error.h"

namespace mbmd::engine {
namespace {

// Codes outside DCMTK's tables (SNOMED CT and UCUM, as TID 1500 and TID 1410 use them).
const DSRCodedEntryValue kMass("4147007", "SCT", "Mass");
const DSRCodedEntryValue kMammography("71651007", "SCT", "Mammography");
const DSRCodedEntryValue kFindingAbsent("373572006", "SCT", "Clinical finding absent");
const DSRCodedEntryValue kEnglish("eng", "RFC5646", "English");
const DSRCodedEntryValue kNoUnits("1", "UCUM", "no units");

std::string new_uid() {
  char uid[100];
  return dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
}

void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) throw Error(what + ": " + status.text());
}

// The attributes of the source image that a report refers to.
struct SourceImage {
  std::string file, study_uid, series_uid, sop_class, sop_instance;
  DcmFileFormat header;  // up to the pixel data
};

std::string string_of(DcmItem& dataset, const DcmTagKey& tag) {
  OFString value;
  dataset.findAndGetOFString(tag, value);
  return value.c_str();
}

SourceImage read_source(const std::string& file) {
  if (!dcmDataDict.isDictionaryLoaded())
    throw Error(
        "DCMTK's data dictionary is not loaded (install DCMTK's dicom.dic or set "
        "DCMDICTPATH); cannot write DICOM SR for " +
        file);
  SourceImage source;
  source.file = file;
  check(source.header.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                       ERM_autoDetect, DCM_PixelData),
        file + ": cannot read the DICOM header for the SR");
  DcmDataset& ds = *source.header.getDataset();
  source.study_uid = string_of(ds, DCM_StudyInstanceUID);
  source.series_uid = string_of(ds, DCM_SeriesInstanceUID);
  source.sop_class = string_of(ds, DCM_SOPClassUID);
  source.sop_instance = string_of(ds, DCM_SOPInstanceUID);
  for (const auto& [value, name] : {std::pair{&source.study_uid, "StudyInstanceUID"},
                                    {&source.series_uid, "SeriesInstanceUID"},
                                    {&source.sop_class, "SOPClassUID"},
                                    {&source.sop_instance, "SOPInstanceUID"}})
    if (value->empty())
      throw Error(file + ": no " + std::string(name) + ", so an SR cannot refer to the image");
  return source;
}

// Adds content items at a cursor: child() goes one level down, next() stays on the level, up()
// returns to the parent. Every step checks DCMTK's relationship constraints.
class TreeCursor {
 public:
  explicit TreeCursor(DSRDocumentTree& tree) : tree_(tree) {}

  TreeCursor& child(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type,
                    const DSRCodedEntryValue& concept_name) {
    return add(rel, type, concept_name, DSRTypes::AM_belowCurrent);
  }
  TreeCursor& next(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type,
                   const DSRCodedEntryValue& concept_name) {
    return add(rel, type, concept_name, DSRTypes::AM_afterCurrent);
  }
  // An item without a concept name (an image reference).
  TreeCursor& add_unnamed(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type,
                          DSRTypes::E_AddMode mode) {
    if (tree_.addContentItem(rel, type, mode) == 0)
      throw Error("DICOM SR: cannot add a " + std::string(DSRTypes::valueTypeToDefinedTerm(type)) +
                  " item here");
    return *this;
  }
  TreeCursor& up() {
    tree_.goUp();
    return *this;
  }
  DSRContentItem& item() { return tree_.getCurrentContentItem(); }

  void code(const DSRCodedEntryValue& value) { check(item().setCodeValue(value), "DICOM SR code"); }
  void text(const std::string& value) {
    check(item().setStringValue(value.c_str(), false), "DICOM SR text");
  }

 private:
  TreeCursor& add(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type,
                  const DSRCodedEntryValue& concept_name, DSRTypes::E_AddMode mode) {
    add_unnamed(rel, type, mode);
    check(item().setConceptName(concept_name), "DICOM SR concept name");
    return *this;
  }

  DSRDocumentTree& tree_;
};

DSRImageReferenceValue image_reference(const SourceImage& source, int frame) {
  DSRImageReferenceValue reference(source.sop_class.c_str(), source.sop_instance.c_str());
  if (frame >= 0) reference.getFrameList().addItem(static_cast<Sint32>(frame + 1));
  return reference;
}

std::string decimal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

}  // namespace

StructuredReportWriter::StructuredReportWriter(SrAlgorithm algorithm, double score_thr)
    : algorithm_(std::move(algorithm)), score_thr_(score_thr), observer_uid_(new_uid()) {
  // DCMTK logs warnings about the source's own irregularities; the report is checked by us.
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
}

namespace {

// Root, language, observer and procedure (TID 1500 rows 1-4), leaving the cursor on the
// procedure item.
void add_report_header(TreeCursor& at, const SrAlgorithm& algorithm,
                       const std::string& observer_uid) {
  at.add_unnamed(DSRTypes::RT_isRoot, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent);
  check(at.item().setConceptName(CODE_DCM_ImagingMeasurementReport), "DICOM SR title");
  check(at.item().setTemplateIdentification("1500", "DCMR"), "DICOM SR template");
  at.child(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code,
           CODE_DCM_LanguageOfContentItemAndDescendants)
      .code(kEnglish);
  at.next(DSRTypes::RT_hasObsContext, DSRTypes::VT_Code, CODE_DCM_ObserverType)
      .code(CODE_DCM_Device);
  at.next(DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, CODE_DCM_DeviceObserverUID)
      .text(observer_uid);
  at.next(DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, CODE_DCM_DeviceObserverName)
      .text(algorithm.name);
  if (!algorithm.model.empty())
    at.next(DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, CODE_DCM_DeviceObserverModelName)
        .text(algorithm.model);
  at.next(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, CODE_DCM_ProcedureReported)
      .code(kMammography);
}

// Image Library (TID 1600) with the source image.
void add_image_library(TreeCursor& at, const SourceImage& source) {
  at.next(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibrary);
  at.child(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibraryGroup);
  at.add_unnamed(DSRTypes::RT_contains, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent);
  check(at.item().setImageReference(image_reference(source, -1)), "DICOM SR image library");
  at.up().up();
}

// The score, with the algorithm that gave it (TID 4019).
void add_score(TreeCursor& at, double score, const SrAlgorithm& algorithm) {
  at.next(DSRTypes::RT_contains, DSRTypes::VT_Num,
          DSRCodedEntryValue("122157", "DCM", "Probability"));
  check(at.item().setNumericValue(DSRNumericMeasurementValue(decimal(score).c_str(), kNoUnits)),
        "DICOM SR score");
  at.child(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, CODE_DCM_AlgorithmName)
      .text(algorithm.name);
  at.next(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, CODE_DCM_AlgorithmVersion)
      .text(algorithm.version.empty() ? "unknown" : algorithm.version);
  if (!algorithm.parameters.empty())
    at.next(DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, CODE_DCM_AlgorithmParameters)
        .text(algorithm.parameters);
  at.up();
}

// One planar ROI measurement group (TID 1410): tracking, finding, region, score.
void add_finding(TreeCursor& at, const SrFinding& f, int number, const SourceImage& source,
                 const SrAlgorithm& algorithm) {
  at.child(DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, CODE_DCM_TrackingIdentifier)
      .text("mass " + std::to_string(number));
  at.next(DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, CODE_DCM_TrackingUniqueIdentifier)
      .text(new_uid());
  at.next(DSRTypes::RT_contains, DSRTypes::VT_Code, CODE_DCM_Finding).code(kMass);
  at.next(DSRTypes::RT_contains, DSRTypes::VT_SCoord, CODE_DCM_ImageRegion);
  DSRSpatialCoordinatesValue polyline(DSRTypes::GT_Polyline);
  const double corners[5][2] = {
      {f.x1, f.y1}, {f.x2, f.y1}, {f.x2, f.y2}, {f.x1, f.y2}, {f.x1, f.y1}};
  for (const auto& corner : corners)
    polyline.getGraphicDataList().addItem(static_cast<float>(corner[0]),
                                          static_cast<float>(corner[1]));
  check(at.item().setSpatialCoordinates(polyline), "DICOM SR region");
  at.add_unnamed(DSRTypes::RT_selectedFrom, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent);
  check(at.item().setImageReference(image_reference(source, f.frame)), "DICOM SR region image");
  at.up();
  add_score(at, f.score, algorithm);
  at.up();
}

// Imaging Measurements with one group per finding, or Qualitative Evaluations saying that there
// is none.
void add_findings(TreeCursor& at, const std::vector<SrFinding>& findings, double score_thr,
                  const SourceImage& source, const SrAlgorithm& algorithm) {
  int number = 0;
  for (const auto& f : findings) {
    if (f.score < score_thr) continue;
    if (number++ == 0)
      at.next(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImagingMeasurements);
    at.child(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_MeasurementGroup);
    check(at.item().setTemplateIdentification("1410", "DCMR"), "DICOM SR group template");
    add_finding(at, f, number, source, algorithm);
    at.up();
  }
  if (number > 0) {
    at.up();
    return;
  }
  at.next(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_UMLS_QualitativeEvaluations);
  at.child(DSRTypes::RT_contains, DSRTypes::VT_Code, CODE_DCM_Finding).code(kFindingAbsent);
  at.next(DSRTypes::RT_contains, DSRTypes::VT_Text, CODE_DCM_Comment)
      .text(algorithm.name + " found no mass scoring " + decimal(score_thr) + " or more");
  at.up();
}

}  // namespace

void StructuredReportWriter::write(const std::string& source_file,
                                   const std::vector<SrFinding>& findings,
                                   const std::string& path) {
  SourceImage source = read_source(source_file);
  DcmDataset& source_ds = *source.header.getDataset();
  DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
  const std::string charset = string_of(source_ds, DCM_SpecificCharacterSet);
  if (!charset.empty()) doc.setSpecificCharacterSet(charset.c_str(), false);
  check(doc.readStudyData(source_ds), source_file + ": patient and study of the SR");
  check(doc.setManufacturer(algorithm_.name.c_str()), "DICOM SR manufacturer");
  if (!algorithm_.model.empty()) doc.setManufacturerModelName(algorithm_.model.c_str(), false);
  if (!algorithm_.version.empty()) doc.setSoftwareVersions(algorithm_.version.c_str(), false);
  doc.setSeriesDescription("mbmd mass detections", false);
  check(doc.getCurrentRequestedProcedureEvidence().addItem(
            source.study_uid.c_str(), source.series_uid.c_str(), source.sop_class.c_str(),
            source.sop_instance.c_str()),
        "DICOM SR evidence");

  TreeCursor at(doc.getTree());
  add_report_header(at, algorithm_, observer_uid_);
  add_image_library(at, source);
  add_findings(at, findings, score_thr_, source, algorithm_);

  auto [series, fresh] = series_by_study_.emplace(source.study_uid, std::string());
  if (fresh) series->second = new_uid();
  DcmFileFormat out;
  DcmDataset& ds = *out.getDataset();
  check(doc.write(ds), path + ": the SR document");
  check(ds.putAndInsertString(DCM_SeriesInstanceUID, series->second.c_str()), path);
  check(ds.putAndInsertString(DCM_SeriesNumber, "9001"), path);
  check(ds.putAndInsertString(DCM_InstanceNumber, std::to_string(++instances_).c_str()), path);
  const std::string tmp = temporary_path_for(path);
  check(out.saveFile(tmp.c_str(), EXS_LittleEndianExplicit), path + ": cannot write");
  replace_file(tmp, path);
}

}  // namespace mbmd::engine
