// refine on the GPU: one launch per iteration (each reads the whole previous map). A block
// sharpens its tile plus the kernel's apron once into shared memory (replicated borders,
// as the CPU kernel's padded ring), then every thread correlates its pixel in the CPU's
// order (acc = 0; acc = acc + k * v over rows, then columns) and clamps: with --fmad=false
// the sums are the CPU's bit for bit.
#include <algorithm>
#include <cmath>

#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "kernels.hpp"
#include "pixel_ops.hpp"
#include "refine.hpp"  // check_refine_args

namespace facecore {
namespace cuda {
namespace {

constexpr int kBlockX = 32, kBlockY = 8;

__global__ void refine_kernel(const float* in, int H, int W, float power, int int_power,
                              const float* kernel, int kh, int kw, float* out) {
    extern __shared__ float shared[];
    const int rh = kh / 2, rw = kw / 2;
    const int tile_w = static_cast<int>(blockDim.x) + kw - 1;
    const int tile_h = static_cast<int>(blockDim.y) + kh - 1;
    float* tile = shared;
    float* k = shared + tile_w * tile_h;
    const int x0 = static_cast<int>(blockIdx.x * blockDim.x) - rw;
    const int y0 = static_cast<int>(blockIdx.y * blockDim.y) - rh;
    const int tid = static_cast<int>(threadIdx.y * blockDim.x + threadIdx.x);
    const int threads = static_cast<int>(blockDim.x * blockDim.y);
    for (int i = tid; i < kh * kw; i += threads) k[i] = kernel[i];
    for (int i = tid; i < tile_w * tile_h; i += threads) {
        const int sy = px::clamp_index(y0 + i / tile_w, H);
        const int sx = px::clamp_index(x0 + i % tile_w, W);
        tile[i] = px::sharpen(in[static_cast<long long>(sy) * W + sx], power, int_power);
    }
    __syncthreads();
    const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
    if (x >= W || y >= H) return;
    float acc = 0.0f;
    for (int ky = 0; ky < kh; ++ky) {
        const float* row = tile + (static_cast<int>(threadIdx.y) + ky) * tile_w + threadIdx.x;
        for (int kx = 0; kx < kw; ++kx) acc = acc + k[ky * kw + kx] * row[kx];
    }
    out[static_cast<long long>(y) * W + x] = px::clamp01(acc);
}

}  // namespace

void refine_map_f32(const float* in, std::int64_t height, std::int64_t width, float power,
                    const float* kernel, std::int64_t kernel_h, std::int64_t kernel_w,
                    int iterations, float* out, cudaStream_t stream) {
    const int int_power =
        check_refine_args(height, width, power, kernel, kernel_h, kernel_w, iterations);
    require(
        height <= 0x7fffffff && width <= 0x7fffffff && (height + kBlockY - 1) / kBlockY <= 65535,
        "p: too many rows for one launch");
    const std::size_t size = static_cast<std::size_t>(height * width);
    if (iterations == 0) {
        if (out != in)
            FACECORE_CUDA_CHECK(
                cudaMemcpyAsync(out, in, size * sizeof(float), cudaMemcpyDeviceToDevice, stream));
        return;
    }
    const std::size_t kcount = static_cast<std::size_t>(kernel_h * kernel_w);
    DeviceBuffer<float> d_kernel(kcount, stream);
    d_kernel.upload(kernel, kcount);
    // Ping-pong between `out` and one scratch map, as the CPU kernel does; an in-place call
    // reads a copy of its input (a launch must not overwrite pixels its neighbours still read).
    DeviceBuffer<float> scratch(iterations > 1 ? size : 0, stream);
    DeviceBuffer<float> input_copy;
    const float* src = in;
    if (in == out) {
        input_copy = DeviceBuffer<float>(size, stream);
        FACECORE_CUDA_CHECK(cudaMemcpyAsync(input_copy.data(), in, size * sizeof(float),
                                            cudaMemcpyDeviceToDevice, stream));
        src = input_copy.data();
    }
    const dim3 block(kBlockX, kBlockY);
    const dim3 grid(static_cast<unsigned>((width + kBlockX - 1) / kBlockX),
                    static_cast<unsigned>((height + kBlockY - 1) / kBlockY));
    const int kh = static_cast<int>(kernel_h), kw = static_cast<int>(kernel_w);
    const std::size_t shared =
        sizeof(float) * static_cast<std::size_t>((kBlockX + kw - 1) * (kBlockY + kh - 1) + kh * kw);
    // Write the last iteration to `out`: start in `out` when the count is odd.
    float* dst = (iterations % 2 == 1) ? out : scratch.data();
    for (int it = 0; it < iterations; ++it) {
        refine_kernel<<<grid, block, shared, stream>>>(src, static_cast<int>(height),
                                                       static_cast<int>(width), power, int_power,
                                                       d_kernel.data(), kh, kw, dst);
        FACECORE_CUDA_CHECK(cudaGetLastError());
        src = dst;
        dst = (dst == out) ? scratch.data() : out;
    }
}

}  // namespace cuda
}  // namespace facecore
