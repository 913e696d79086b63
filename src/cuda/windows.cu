// windows on the GPU. Extraction: one thread per output float, (value - mean) / std as the
// CPU kernel computes it. Accumulation "mean": the CPU kernel's float64 prefix sum, built in
// the same order (a row scan, then a column scan: each addition is the CPU's, so the table
// is bit-identical), then one thread per pixel with the CPU's block-sum expression; no
// atomics, so the result is deterministic and equals the CPU's. "centre": one thread per
// pixel with the CPU's float64 grid positions and float32 interpolation.
#include <algorithm>
#include <cmath>
#include <string>

#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "kernels.hpp"

namespace facecore {

namespace cuda {
namespace {

constexpr int kThreads = 256;

struct Normalise {
    float mean[4];
    float std_dev[4];
    int source[4];
};

unsigned blocks_for(std::int64_t total) {
    // Grid-stride loops cover the rest; 2^20 blocks of 256 keep every SM busy.
    return static_cast<unsigned>(std::max<std::int64_t>(
        1, std::min<std::int64_t>((total + kThreads - 1) / kThreads, 1 << 20)));
}

// out[k][c][r][q] = (image[oy + r][ox + q][source[c]] - mean[c]) / std[c], window k = first + k.
__global__ void extract_kernel(ImageView<const std::uint8_t> src, long long grid_w,
                               long long stride_y, long long stride_x, long long window_h,
                               long long window_w, long long first, long long count, int channels,
                               Normalise nm, float* out) {
    const long long total = count * channels * window_h * window_w;
    const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
    for (long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
         t += step) {
        const long long q = t % window_w;
        const long long rest = t / window_w;
        const long long r = rest % window_h;
        const long long kc = rest / window_h;
        const int c = static_cast<int>(kc % channels);
        const long long index = first + kc / channels;
        const long long oy = (index / grid_w) * stride_y, ox = (index % grid_w) * stride_x;
        const std::uint8_t v = src.row(oy + r)[(ox + q) * channels + nm.source[c]];
        out[t] = (static_cast<float>(v) - nm.mean[c]) / nm.std_dev[c];
    }
}

// Row i of the table (row 0 and column 0 stay zero): the running sums of score row i.
// prefix is (grid_h + 1) x (grid_w + 1) doubles.
__global__ void row_scan_kernel(const float* scores, long long grid_h, long long grid_w,
                                double* prefix) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= grid_h) return;
    double run = 0.0;
    const float* s = scores + i * grid_w;
    double* p = prefix + (i + 1) * (grid_w + 1) + 1;
    for (long long j = 0; j < grid_w; ++j) {
        run += static_cast<double>(s[j]);
        p[j] = run;
    }
}

// Down each column: prefix[i+1][j+1] = prefix[i][j+1] + run(i, j), the CPU's addition.
__global__ void column_scan_kernel(long long grid_h, long long grid_w, double* prefix) {
    const long long j = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (j >= grid_w) return;
    const long long stride = grid_w + 1;
    double above = 0.0;
    for (long long i = 0; i < grid_h; ++i) {
        double* cell = prefix + (i + 1) * stride + j + 1;
        above = above + *cell;
        *cell = above;
    }
}

// Windows i with i * stride <= p <= i * stride + window - 1 (the CPU kernel's `range`).
__device__ __forceinline__ void cover_range(long long p, long long window, long long stride,
                                            long long n, long long& lo, long long& hi) {
    lo = p - window + 1 <= 0 ? 0 : (p - window + 1 + stride - 1) / stride;
    hi = min(n - 1, p / stride);
}

__global__ void mean_kernel(const double* prefix, long long H, long long W, long long window_h,
                            long long window_w, long long stride_y, long long stride_x,
                            long long grid_h, long long grid_w, float fill, float* out) {
    const long long x = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long y = static_cast<long long>(blockIdx.y) * blockDim.y + threadIdx.y;
    if (x >= W || y >= H) return;
    long long y_lo, y_hi, lo, hi;
    cover_range(y, window_h, stride_y, grid_h, y_lo, y_hi);
    cover_range(x, window_w, stride_x, grid_w, lo, hi);
    if (y_lo > y_hi || lo > hi) {
        out[y * W + x] = fill;
        return;
    }
    const double* top = prefix + y_lo * (grid_w + 1);
    const double* bottom = prefix + (y_hi + 1) * (grid_w + 1);
    const double sum = bottom[hi + 1] - bottom[lo] - top[hi + 1] + top[lo];
    const double n = static_cast<double>((y_hi - y_lo + 1) * (hi - lo + 1));
    out[y * W + x] = static_cast<float>(sum / n);
}

// Grid position of pixel p: (p - (window - 1) / 2) / stride, clamped (the CPU's `position`).
__device__ __forceinline__ void centre_position(long long p, long long window, long long stride,
                                                long long n, long long& i0, long long& i1,
                                                float& f) {
    const double t = (static_cast<double>(p) - 0.5 * static_cast<double>(window - 1)) /
                     static_cast<double>(stride);
    if (t <= 0.0 || n == 1) {
        i0 = i1 = 0;
        f = 0.0f;
    } else if (t >= static_cast<double>(n - 1)) {
        i0 = i1 = n - 1;
        f = 0.0f;
    } else {
        i0 = static_cast<long long>(t);
        i1 = i0 + 1;
        f = static_cast<float>(t - static_cast<double>(i0));
    }
}

__global__ void centre_kernel(const float* scores, long long H, long long W, long long window_h,
                              long long window_w, long long stride_y, long long stride_x,
                              long long grid_h, long long grid_w, float* out) {
    const long long x = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long y = static_cast<long long>(blockIdx.y) * blockDim.y + threadIdx.y;
    if (x >= W || y >= H) return;
    long long x0, x1, y0, y1;
    float fx, fy;
    centre_position(x, window_w, stride_x, grid_w, x0, x1, fx);
    centre_position(y, window_h, stride_y, grid_h, y0, y1, fy);
    const float* r0 = scores + y0 * grid_w;
    const float* r1 = scores + y1 * grid_w;
    const float top = r0[x0] + (r0[x1] - r0[x0]) * fx;
    const float bot = r1[x0] + (r1[x1] - r1[x0]) * fx;
    out[y * W + x] = top + (bot - top) * fy;
}

}  // namespace

void extract_windows_nchw_f32(const ImageView<const std::uint8_t>& src, const WindowGrid& g,
                              std::int64_t first, std::int64_t count, const float* mean,
                              const float* std, bool swap_rb, float* out, cudaStream_t stream) {
    check_extract_args(src.height, src.width, src.channels, g, first, count, mean, std, swap_rb);
    const int C = static_cast<int>(src.channels);
    const std::int64_t total = checked_size({count, C, g.window_h, g.window_w}, "count");
    if (total == 0) return;
    Normalise nm{};
    for (int c = 0; c < 4; ++c) {
        nm.mean[c] = c < C ? mean[c] : 0.0f;
        nm.std_dev[c] = c < C ? std[c] : 1.0f;
        nm.source[c] = c;
    }
    if (swap_rb) std::swap(nm.source[0], nm.source[2]);
    extract_kernel<<<blocks_for(total), kThreads, 0, stream>>>(
        src, g.grid_w(), g.stride_y, g.stride_x, g.window_h, g.window_w, first, count, C, nm, out);
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

void accumulate_windows_f32(const float* scores, const WindowGrid& g, int reduce, float fill,
                            float* out, cudaStream_t stream) {
    check_accumulate_args(g, reduce);
    const std::int64_t gh = g.grid_h(), gw = g.grid_w();
    const std::int64_t H = g.image_h, W = g.image_w;
    checked_size({H, W}, "image");
    const dim3 block(32, 8);
    const dim3 grid(static_cast<unsigned>((W + 31) / 32), static_cast<unsigned>((H + 7) / 8));
    require((H + 7) / 8 <= 65535, "image: too many rows for one launch");
    if (reduce == 1) {
        centre_kernel<<<grid, block, 0, stream>>>(scores, H, W, g.window_h, g.window_w, g.stride_y,
                                                  g.stride_x, gh, gw, out);
        FACECORE_CUDA_CHECK(cudaGetLastError());
        return;
    }
    const std::int64_t cells = checked_size({gh + 1, gw + 1}, "scores");
    DeviceBuffer<double> prefix(static_cast<std::size_t>(cells), stream);
    FACECORE_CUDA_CHECK(
        cudaMemsetAsync(prefix.data(), 0, prefix.bytes(), stream));  // 0.0 is all-zero bits
    row_scan_kernel<<<static_cast<unsigned>((gh + 127) / 128), 128, 0, stream>>>(scores, gh, gw,
                                                                                 prefix.data());
    FACECORE_CUDA_CHECK(cudaGetLastError());
    column_scan_kernel<<<static_cast<unsigned>((gw + 127) / 128), 128, 0, stream>>>(gh, gw,
                                                                                    prefix.data());
    FACECORE_CUDA_CHECK(cudaGetLastError());
    mean_kernel<<<grid, block, 0, stream>>>(prefix.data(), H, W, g.window_h, g.window_w, g.stride_y,
                                            g.stride_x, gh, gw, fill, out);
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace cuda
}  // namespace facecore
