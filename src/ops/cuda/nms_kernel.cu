// (Batched) NMS on CUDA, bitmask style: boxes are sorted by score on the device, one thread per box
// of a 64-box row block compares it with the 64 boxes of a column block and writes a 64-bit mask of
// the later boxes it suppresses; the host then walks the boxes in rank order and ORs the masks of
// the kept ones. Same IoU arithmetic and rule (suppress when IoU > threshold) as the CPU kernel.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "nms_kernel.h"

namespace mbmd::ops::cuda {
namespace {

constexpr int kBlock = 64;  // boxes per mask word

template <typename T>
__device__ inline bool suppresses(const T* a, const T* b, double threshold) {
  const T w = max(static_cast<T>(0), min(a[2], b[2]) - max(a[0], b[0]));
  const T h = max(static_cast<T>(0), min(a[3], b[3]) - max(a[1], b[1]));
  const T inter = w * h;
  const T area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const T area_b = (b[2] - b[0]) * (b[3] - b[1]);
  return inter / (area_a + area_b - inter) > threshold;
}

// grid (column blocks, row blocks); mask[row box][column block]
template <typename T>
__global__ void mask_kernel(int64_t count, const T* boxes, const int64_t* labels, double threshold,
                            uint64_t* mask) {
  const int64_t row_block = blockIdx.y;
  const int64_t col_block = blockIdx.x;
  if (col_block < row_block) return;  // only later boxes can be suppressed
  const int64_t row = row_block * kBlock + threadIdx.x;
  if (row >= count) return;
  const int64_t col_begin = col_block * kBlock;
  const int64_t col_end = count < col_begin + kBlock ? count : col_begin + kBlock;
  uint64_t bits = 0;
  for (int64_t col = (col_block == row_block ? row + 1 : col_begin); col < col_end; ++col) {
    if (labels != nullptr && labels[col] != labels[row]) continue;
    if (suppresses(boxes + 4 * row, boxes + 4 * col, threshold)) {
      bits |= uint64_t{1} << (col - col_begin);
    }
  }
  const int64_t col_blocks = (count + kBlock - 1) / kBlock;
  mask[row * col_blocks + col_block] = bits;
}

}  // namespace

at::Tensor nms_kernel(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& labels,
                      double iou_threshold) {
  c10::cuda::CUDAGuard guard(boxes.device());
  const int64_t count = boxes.size(0);
  if (count == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  TORCH_CHECK(boxes.scalar_type() == at::kFloat || boxes.scalar_type() == at::kDouble,
              "nms: the CUDA kernel supports float32 and float64 only");
  // Stable, as on the CPU: equal scores keep their index order.
  const at::Tensor order =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const at::Tensor sorted_boxes = boxes.index_select(0, order).contiguous();
  at::Tensor sorted_labels;
  if (labels.defined()) sorted_labels = labels.index_select(0, order).contiguous();

  const int64_t col_blocks = (count + kBlock - 1) / kBlock;
  // Lower-triangle blocks are never written; zero-filled so the host may read them.
  at::Tensor mask = at::zeros({count * col_blocks}, boxes.options().dtype(at::kLong));
  const dim3 grid(static_cast<unsigned>(col_blocks), static_cast<unsigned>(col_blocks));
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "mbmd_nms_cuda", [&] {
    mask_kernel<scalar_t><<<grid, kBlock, 0, stream>>>(
        count, sorted_boxes.data_ptr<scalar_t>(),
        sorted_labels.defined() ? sorted_labels.data_ptr<int64_t>() : nullptr, iou_threshold,
        reinterpret_cast<uint64_t*>(mask.data_ptr<int64_t>()));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();

  const at::Tensor mask_cpu = mask.cpu();
  const uint64_t* bits = reinterpret_cast<const uint64_t*>(mask_cpu.data_ptr<int64_t>());
  std::vector<uint64_t> removed(static_cast<size_t>(col_blocks), 0);
  std::vector<int64_t> kept_ranks;
  for (int64_t rank = 0; rank < count; ++rank) {
    const int64_t block = rank / kBlock;
    if (removed[block] & (uint64_t{1} << (rank % kBlock))) continue;
    kept_ranks.push_back(rank);
    for (int64_t b = block; b < col_blocks; ++b) removed[b] |= bits[rank * col_blocks + b];
  }
  const at::Tensor ranks =
      at::tensor(kept_ranks, at::TensorOptions().dtype(at::kLong)).to(boxes.device());
  return order.index_select(0, ranks);
}

}  // namespace mbmd::ops::cuda
