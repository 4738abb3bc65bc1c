// The necks by the name model.neck.type gives them: a new neck is one line in kNecks.
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mbmd/core/error.h"
#include "mbmd/model/neck.h"
#include "mbmd/model/necks/fpn.h"
#include "mbmd/model/necks/hrfpn.h"
#include "mbmd/model/necks/mhfpn.h"
#include "mbmd/model/necks/pafpn.h"

namespace mbmd::model {

namespace {

using NeckFactory = std::shared_ptr<NeckImpl> (*)(const std::vector<int64_t>& in_channels,
                                                  int64_t out_channels, const NormOptions& norm);

template <typename Neck>
std::shared_ptr<NeckImpl> build(const std::vector<int64_t>& in_channels, int64_t out_channels,
                                const NormOptions& norm) {
  return std::make_shared<Neck>(in_channels, out_channels, norm);
}

const std::pair<const char*, NeckFactory> kNecks[] = {
    {"fpn", build<FPNImpl>},
    {"pafpn", build<PAFPNImpl>},
    {"hrfpn", build<HRFPNImpl>},
    {"mhfpn", build<MHFPNImpl>},
};

// "fpn, pafpn, hrfpn or mhfpn".
std::string neck_names() {
  std::string out;
  const size_t count = std::size(kNecks);
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += i + 1 < count ? ", " : " or ";
    out += kNecks[i].first;
  }
  return out;
}

}  // namespace

std::shared_ptr<NeckImpl> make_neck(const std::string& type,
                                    const std::vector<int64_t>& in_channels, int64_t out_channels,
                                    const NormOptions& norm) {
  for (const auto& [name, factory] : kNecks) {
    if (type == name) return factory(in_channels, out_channels, norm);
  }
  throw Error("model.neck.type: unknown neck '" + type + "' (choose " + neck_names() + ")");
}

}  // namespace mbmd::model
