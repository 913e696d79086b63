// guided on the GPU: the CPU kernel's steps, each a launch, with the same per-pixel and
// per-line maths from pixel_ops.hpp (area_luma, box_line, guided_ab, guided_px) in the same
// order: the low-resolution box sums are the same running sums in double, one thread per
// line (the low-resolution map is small), and the full-resolution pass is one thread per
// pixel. With --fmad=false the result equals the CPU's bit for bit.
#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "guided.hpp"
#include "kernels.hpp"
#include "pixel_ops.hpp"

namespace facecore {
namespace cuda {
namespace {

constexpr int kThreads = 128, kBlockX = 32, kBlockY = 8;

unsigned blocks_for(long long n) {
    return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

__global__ void planes_kernel(ImageView<const std::uint8_t> guide, const float* alpha, int h, int w,
                              double* planes) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long n = static_cast<long long>(h) * w;
    if (i >= n) return;
    const int y = static_cast<int>(i / w), x = static_cast<int>(i % w);
    const float I =
        px::area_luma(guide.data, guide.row_stride, static_cast<int>(guide.channels),
                      static_cast<int>(guide.height), static_cast<int>(guide.width), h, w, y, x);
    const double di = I, dp = px::clamp01(alpha[i]);
    planes[i] = di;
    planes[n + i] = dp;
    planes[2 * n + i] = di * dp;
    planes[3 * n + i] = di * di;
}

__global__ void box_rows_kernel(const double* in, int lines, int w, int r, double* out) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= lines) return;
    px::box_line(in + i * w, 1, w, r, out + i * w);
}

__global__ void box_cols_kernel(const double* in, int k, int h, int w, int r, double* out) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= static_cast<long long>(k) * w) return;
    const long long off = (i / w) * static_cast<long long>(h) * w + i % w;
    px::box_line(in + off, w, h, r, out + off);
}

__global__ void ab_kernel(const double* sums, int h, int w, int r, double eps, double* ab) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long n = static_cast<long long>(h) * w;
    if (i >= n) return;
    const int y = static_cast<int>(i / w), x = static_cast<int>(i % w);
    const double cnt =
        static_cast<double>(px::box_count(y, h, r)) * static_cast<double>(px::box_count(x, w, r));
    px::guided_ab(sums[i], sums[n + i], sums[2 * n + i], sums[3 * n + i], cnt, eps, ab[i],
                  ab[n + i]);
}

__global__ void mean_kernel(const double* sums, int h, int w, int r, float* ma, float* mb) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long n = static_cast<long long>(h) * w;
    if (i >= n) return;
    const int y = static_cast<int>(i / w), x = static_cast<int>(i % w);
    const double cnt =
        static_cast<double>(px::box_count(y, h, r)) * static_cast<double>(px::box_count(x, w, r));
    ma[i] = static_cast<float>(sums[i] / cnt);
    mb[i] = static_cast<float>(sums[n + i] / cnt);
}

__global__ void full_kernel(ImageView<const std::uint8_t> guide, const float* ma, const float* mb,
                            int h, int w, float* out) {
    const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
    const int H = static_cast<int>(guide.height), W = static_cast<int>(guide.width);
    if (x >= W || y >= H) return;
    int y0, y1, x0, x1;
    float fy, fx;
    px::resize_coord(y, h, H, y0, y1, fy);
    px::resize_coord(x, w, W, x0, x1, fx);
    const int C = static_cast<int>(guide.channels);
    const float I = px::pixel_luma(guide.row(y) + static_cast<long long>(x) * C, C);
    out[static_cast<long long>(y) * W + x] = px::guided_px(ma, mb, w, y0, y1, fy, x0, x1, fx, I);
}

}  // namespace

void guided_upsample_f32(const ImageView<const std::uint8_t>& guide, const float* alpha,
                         std::int64_t h64, std::int64_t w64, int radius, float eps, float* out,
                         cudaStream_t stream) {
    check_guided_args(guide.height, guide.width, guide.channels, h64, w64, radius, eps);
    require((guide.height + kBlockY - 1) / kBlockY <= 65535, "guide: too many rows for one launch");
    const int h = static_cast<int>(h64), w = static_cast<int>(w64);
    const long long n = static_cast<long long>(h) * w;
    const std::size_t un = static_cast<std::size_t>(n);
    DeviceBuffer<double> planes(4 * un, stream), tmp(4 * un, stream), ab(2 * un, stream);
    DeviceBuffer<float> ma(un, stream), mb(un, stream);
    planes_kernel<<<blocks_for(n), kThreads, 0, stream>>>(guide, alpha, h, w, planes.data());
    FACECORE_CUDA_CHECK(cudaGetLastError());
    box_rows_kernel<<<blocks_for(4LL * h), kThreads, 0, stream>>>(planes.data(), 4 * h, w, radius,
                                                                  tmp.data());
    box_cols_kernel<<<blocks_for(4LL * w), kThreads, 0, stream>>>(tmp.data(), 4, h, w, radius,
                                                                  planes.data());
    ab_kernel<<<blocks_for(n), kThreads, 0, stream>>>(planes.data(), h, w, radius,
                                                      static_cast<double>(eps), ab.data());
    box_rows_kernel<<<blocks_for(2LL * h), kThreads, 0, stream>>>(ab.data(), 2 * h, w, radius,
                                                                  tmp.data());
    box_cols_kernel<<<blocks_for(2LL * w), kThreads, 0, stream>>>(tmp.data(), 2, h, w, radius,
                                                                  ab.data());
    mean_kernel<<<blocks_for(n), kThreads, 0, stream>>>(ab.data(), h, w, radius, ma.data(),
                                                        mb.data());
    FACECORE_CUDA_CHECK(cudaGetLastError());
    const dim3 block(kBlockX, kBlockY);
    const dim3 grid(static_cast<unsigned>((guide.width + kBlockX - 1) / kBlockX),
                    static_cast<unsigned>((guide.height + kBlockY - 1) / kBlockY));
    full_kernel<<<grid, block, 0, stream>>>(guide, ma.data(), mb.data(), h, w, out);
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace cuda
}  // namespace facecore
