// warp on the GPU: one thread per destination pixel (all channels), one launch for all N
// crops (grid z walks the crops). The sampling is pixel_ops.hpp's, as in src/cpp/warp.cpp,
// and the sampling maps come from the same host-side inversion (sampling_maps), so the
// results equal the CPU kernel's bit for bit.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "kernels.hpp"
#include "pixel_ops.hpp"
#include "warp.hpp"

namespace facecore {
namespace cuda {
namespace {

constexpr int kBlockX = 32, kBlockY = 8;
constexpr unsigned kMaxGridZ = 65535;  // CUDA's limit on gridDim.z; more crops loop

struct PerChannel {
    float fill[4];
    float mean[4];
    float std_dev[4];
    int source[4];  // output channel c reads warped channel source[c] (swap_rb)
};

// Out: uint8 (n, h, w, C) when `out_u8`, else float32 NCHW normalised into `out_f32`.
template <int C>
__global__ void warp_u8_kernel(ImageView<const std::uint8_t> src, const px::Affine* maps, int n,
                               int out_h, int out_w, Border border, PerChannel pc,
                               std::uint8_t* out_u8, float* out_f32) {
    const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
    if (x >= out_w || y >= out_h) return;
    const long long plane = static_cast<long long>(out_h) * out_w;
    for (int i = static_cast<int>(blockIdx.z); i < n; i += static_cast<int>(gridDim.z)) {
        const px::SamplePos p = px::sample_pos(maps[i], x, y);
        long long off[4];
        px::neighbour_offsets(p, src.height, src.width, src.row_stride, C, border, off);
        std::uint8_t v[C];
#pragma unroll
        for (int c = 0; c < C; ++c)
            v[c] = px::saturate_u8(px::bilinear(src.data, off, p.fx, p.fy, c, pc.fill[c]));
        const long long pixel =
            static_cast<long long>(i) * plane + static_cast<long long>(y) * out_w + x;
        if (out_u8 != nullptr) {
            std::uint8_t* o = out_u8 + pixel * C;
#pragma unroll
            for (int c = 0; c < C; ++c) o[c] = v[c];
        } else {
            // (v - mean) / std: the CPU kernel's (and NumPy's) float32 expression.
            float* o = out_f32 + static_cast<long long>(i) * C * plane +
                       static_cast<long long>(y) * out_w + x;
#pragma unroll
            for (int c = 0; c < C; ++c)
                o[c * plane] = (static_cast<float>(v[pc.source[c]]) - pc.mean[c]) / pc.std_dev[c];
        }
    }
}

__global__ void warp_f32_kernel(ImageView<const float> src, const px::Affine* maps, int n,
                                int out_h, int out_w, int channels, Border border, float fill,
                                float* out) {
    const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
    if (x >= out_w || y >= out_h) return;
    const long long plane = static_cast<long long>(out_h) * out_w;
    for (int i = static_cast<int>(blockIdx.z); i < n; i += static_cast<int>(gridDim.z)) {
        const px::SamplePos p = px::sample_pos(maps[i], x, y);
        long long off[4];
        px::neighbour_offsets(p, src.height, src.width, src.row_stride, channels, border, off);
        float* o =
            out +
            (static_cast<long long>(i) * plane + static_cast<long long>(y) * out_w + x) * channels;
        for (int c = 0; c < channels; ++c) o[c] = px::bilinear(src.data, off, p.fx, p.fy, c, fill);
    }
}

dim3 grid_for(std::int64_t n, std::int64_t out_h, std::int64_t out_w) {
    return dim3(static_cast<unsigned>((out_w + kBlockX - 1) / kBlockX),
                static_cast<unsigned>((out_h + kBlockY - 1) / kBlockY),
                static_cast<unsigned>(std::min<std::int64_t>(n, kMaxGridZ)));
}

// The sampling maps, inverted on the host exactly as the CPU kernel does, in device memory.
DeviceBuffer<px::Affine> upload_maps(const double* matrices, std::int64_t n, bool inverse_given,
                                     cudaStream_t stream) {
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    DeviceBuffer<px::Affine> d(maps.size(), stream);
    d.upload(maps.data(), maps.size());
    return d;
}

PerChannel per_channel(int C, const int* fill, const float* mean, const float* std_dev,
                       bool swap_rb) {
    PerChannel pc{};
    for (int c = 0; c < 4; ++c) {
        pc.fill[c] = c < C ? static_cast<float>(fill[c]) : 0.0f;
        pc.mean[c] = (mean != nullptr && c < C) ? mean[c] : 0.0f;
        pc.std_dev[c] = (std_dev != nullptr && c < C) ? std_dev[c] : 1.0f;
        pc.source[c] = c;
    }
    if (swap_rb) std::swap(pc.source[0], pc.source[2]);
    return pc;
}

void launch_u8(const ImageView<const std::uint8_t>& src, const px::Affine* maps, std::int64_t n,
               std::int64_t out_h, std::int64_t out_w, Border border, const PerChannel& pc,
               std::uint8_t* out_u8, float* out_f32, cudaStream_t stream) {
    const dim3 block(kBlockX, kBlockY);
    const dim3 grid = grid_for(n, out_h, out_w);
    const int ni = static_cast<int>(n), h = static_cast<int>(out_h), w = static_cast<int>(out_w);
    switch (src.channels) {
        case 1:
            warp_u8_kernel<1>
                <<<grid, block, 0, stream>>>(src, maps, ni, h, w, border, pc, out_u8, out_f32);
            break;
        case 2:
            warp_u8_kernel<2>
                <<<grid, block, 0, stream>>>(src, maps, ni, h, w, border, pc, out_u8, out_f32);
            break;
        case 3:
            warp_u8_kernel<3>
                <<<grid, block, 0, stream>>>(src, maps, ni, h, w, border, pc, out_u8, out_f32);
            break;
        default:
            warp_u8_kernel<4>
                <<<grid, block, 0, stream>>>(src, maps, ni, h, w, border, pc, out_u8, out_f32);
            break;
    }
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void warp_affine_u8(const ImageView<const std::uint8_t>& src, const double* matrices,
                    std::int64_t n, bool inverse_given, std::int64_t out_h, std::int64_t out_w,
                    Border border, const int* fill, std::uint8_t* out, cudaStream_t stream) {
    check_warp_args(n, out_h, out_w, src.height, src.width, src.channels);
    // n fits an int: n * out_h * out_w * C elements fit memory and out_h, out_w >= 1.
    require(n <= 0x7fffffff, "matrices: too many matrices");
    const int C = static_cast<int>(src.channels);
    const PerChannel pc = per_channel(C, fill, nullptr, nullptr, false);
    DeviceBuffer<px::Affine> maps = upload_maps(matrices, n, inverse_given, stream);
    launch_u8(src, maps.data(), n, out_h, out_w, border, pc, out, nullptr, stream);
}

void warp_affine_to_nchw_f32(const ImageView<const std::uint8_t>& src, const double* matrices,
                             std::int64_t n, bool inverse_given, std::int64_t out_h,
                             std::int64_t out_w, Border border, const int* fill, const float* mean,
                             const float* std, bool swap_rb, float* out, cudaStream_t stream) {
    check_warp_args(n, out_h, out_w, src.height, src.width, src.channels);
    require(n <= 0x7fffffff, "matrices: too many matrices");
    const int C = static_cast<int>(src.channels);
    check_normalise_args(C, mean, std, swap_rb);
    const PerChannel pc = per_channel(C, fill, mean, std, swap_rb);
    DeviceBuffer<px::Affine> maps = upload_maps(matrices, n, inverse_given, stream);
    launch_u8(src, maps.data(), n, out_h, out_w, border, pc, nullptr, out, stream);
}

void warp_affine_f32(const ImageView<const float>& src, const double* matrices, std::int64_t n,
                     bool inverse_given, std::int64_t out_h, std::int64_t out_w, Border border,
                     float fill, float* out, cudaStream_t stream) {
    check_warp_args(n, out_h, out_w, src.height, src.width, src.channels);
    require(n <= 0x7fffffff, "matrices: too many matrices");
    DeviceBuffer<px::Affine> maps = upload_maps(matrices, n, inverse_given, stream);
    warp_f32_kernel<<<grid_for(n, out_h, out_w), dim3(kBlockX, kBlockY), 0, stream>>>(
        src, maps.data(), static_cast<int>(n), static_cast<int>(out_h), static_cast<int>(out_w),
        static_cast<int>(src.channels), border, fill, out);
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace cuda
}  // namespace facecore
