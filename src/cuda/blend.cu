// blend on the GPU: one thread per value (blend) or per pixel (recolour), rows may be
// strided as in the CPU kernel's ImageViews. The colour maths is pixel_ops.hpp's and the
// sRGB decode table and the target's chroma are computed on the host by the same code as
// the CPU kernel, so with IEEE division and square root (nvcc's defaults, kept: no
// --use_fast_math) and --fmad=false the results equal the CPU's bit for bit.
#include <cmath>
#include <string>
#include <vector>

#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "kernels.hpp"
#include "pixel_ops.hpp"

namespace facecore {
namespace cuda {
namespace {

constexpr int kBlockX = 32, kBlockY = 8;

struct RecolorParams {
    float ta, tb, th, ts, strength;
    int space;        // ColourSpace
    px::Transfer tr;  // transfer / natural
};

// One thread per sampled row: the CPU's px::lab_stats_row, summed by the host in row order.
__global__ void lab_stats_kernel(ImageView<const std::uint8_t> image, ImageView<const float> alpha,
                                 const float* to_linear, long long step, long long rows,
                                 double* partial) {
    const long long r = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    px::lab_stats_row(image.row(r * step), alpha.row(r * step), image.width, step, to_linear,
                      partial + 6 * r);
}

__global__ void blend_kernel(ImageView<const std::uint8_t> base,
                             ImageView<const std::uint8_t> effect, ImageView<const float> alpha,
                             ImageView<std::uint8_t> out) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;  // x * C + c
    const long long y = static_cast<long long>(blockIdx.y) * blockDim.y + threadIdx.y;
    if (i >= base.width * base.channels || y >= base.height) return;
    const float a = px::clamp01(alpha.row(y)[i / base.channels]);
    out.row(y)[i] = px::blend_u8(base.row(y)[i], static_cast<float>(effect.row(y)[i]), a);
}

__global__ void recolor_kernel(ImageView<const std::uint8_t> image, ImageView<const float> alpha,
                               const float* to_linear, RecolorParams P,
                               ImageView<std::uint8_t> out) {
    __shared__ float lut[256];
    const int tid = static_cast<int>(threadIdx.y * blockDim.x + threadIdx.x);
    for (int i = tid; i < 256; i += static_cast<int>(blockDim.x * blockDim.y))
        lut[i] = to_linear[i];
    __syncthreads();
    const long long x = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long y = static_cast<long long>(blockIdx.y) * blockDim.y + threadIdx.y;
    if (x >= image.width || y >= image.height) return;
    const std::uint8_t* p = image.row(y) + 3 * x;
    std::uint8_t* q = out.row(y) + 3 * x;
    const std::uint8_t p0 = p[0], p1 = p[1], p2 = p[2];  // read first: `out` may be `image`
    const float a = px::clamp01(alpha.row(y)[x]);
    if (!(a > 0.0f)) {  // (1 - 0) * v + 0 rounds back to v: the CPU kernel's copy
        q[0] = p0;
        q[1] = p1;
        q[2] = p2;
        return;
    }
    float l0, l1, l2;
    if (P.space >= 2) {
        const float in0 = lut[p0], in1 = lut[p1], in2 = lut[p2];
        if (P.strength == 1.0f) {
            px::recolor_transfer_px(px::linear_rgb_to_okL(in2, in1, in0), 0.0f, 0.0f, P.tr, 1.0f,
                                    l0, l1, l2);
        } else {
            float L, A, B;
            px::linear_rgb_to_oklab(in2, in1, in0, L, A, B);
            px::recolor_transfer_px(L, A, B, P.tr, P.strength, l0, l1, l2);
        }
    } else if (P.space == 0) {
        const float in0 = lut[p0], in1 = lut[p1], in2 = lut[p2];
        if (P.strength == 1.0f)
            px::recolor_lab_full_px(in2, in1, in0, P.ta, P.tb, l0, l1, l2);
        else
            px::recolor_lab_px(in2, in1, in0, P.ta, P.tb, P.strength, l0, l1, l2);
    } else {
        px::recolor_hsv_px(static_cast<float>(p0), static_cast<float>(p1), static_cast<float>(p2),
                           P.th, P.ts, P.strength, l0, l1, l2);
    }
    q[0] = px::blend_u8(p0, l0, a);
    q[1] = px::blend_u8(p1, l1, a);
    q[2] = px::blend_u8(p2, l2, a);
}

}  // namespace

void blend_u8(const ImageView<const std::uint8_t>& base,
              const ImageView<const std::uint8_t>& effect, const ImageView<const float>& alpha,
              const ImageView<std::uint8_t>& out, cudaStream_t stream) {
    check_blend_args(base, effect, alpha, out);
    const std::int64_t H = base.height, W = base.width, C = base.channels;
    require((H + kBlockY - 1) / kBlockY <= 65535, "base: too many rows for one launch");
    const dim3 block(kBlockX, kBlockY);
    const dim3 grid(static_cast<unsigned>((W * C + kBlockX - 1) / kBlockX),
                    static_cast<unsigned>((H + kBlockY - 1) / kBlockY));
    blend_kernel<<<grid, block, 0, stream>>>(base, effect, alpha, out);
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

LabStats lab_stats_u8(const ImageView<const std::uint8_t>& image,
                      const ImageView<const float>& alpha, std::int64_t step, cudaStream_t stream) {
    check_lab_stats_args(image, alpha, step);
    const std::int64_t H = image.height;
    px::ColourTables tables;
    px::fill_colour_tables(tables);
    DeviceBuffer<float> lut(256, stream);
    lut.upload(tables.to_linear, 256);
    const long long rows = (H + step - 1) / step;
    DeviceBuffer<double> partial(static_cast<std::size_t>(6 * rows), stream);
    const int threads = 128;
    lab_stats_kernel<<<static_cast<unsigned>((rows + threads - 1) / threads), threads, 0, stream>>>(
        image, alpha, lut.data(), step, rows, partial.data());
    FACECORE_CUDA_CHECK(cudaGetLastError());
    std::vector<double> host(static_cast<std::size_t>(6 * rows));
    FACECORE_CUDA_CHECK(cudaMemcpyAsync(host.data(), partial.data(), host.size() * sizeof(double),
                                        cudaMemcpyDeviceToHost, stream));
    FACECORE_CUDA_CHECK(cudaStreamSynchronize(stream));
    return px::lab_stats_total(host.data(), rows);
}

void recolor_u8(const ImageView<const std::uint8_t>& image, const ImageView<const float>& alpha,
                ColourSpace space, const float* target_bgr, float strength,
                const ImageView<std::uint8_t>& out, cudaStream_t stream, const float* source) {
    check_recolor_args(image, alpha, target_bgr, strength, out, source);
    const std::int64_t H = image.height, W = image.width;
    require((H + kBlockY - 1) / kBlockY <= 65535, "image: too many rows for one launch");
    // The sRGB decode table (host powf, as the CPU kernel's) and the target's chroma, with the
    // same host code as src/cpp/blend.cpp.
    px::ColourTables tables;
    px::fill_colour_tables(tables);
    RecolorParams P{};
    {
        const float r = target_bgr[2] / 255.0f, g = target_bgr[1] / 255.0f,
                    b = target_bgr[0] / 255.0f;
        float L, v;
        px::linear_rgb_to_lab(px::srgb_to_linear(r), px::srgb_to_linear(g), px::srgb_to_linear(b),
                              L, P.ta, P.tb);
        px::rgb_to_hsv(r, g, b, P.th, P.ts, v);
    }
    P.strength = strength;
    P.space = static_cast<int>(space);
    if (space == ColourSpace::Transfer || space == ColourSpace::Natural) {
        float mu, sd;
        if (source != nullptr) {
            mu = source[0];
            sd = source[1];
        } else {
            const LabStats st = lab_stats_u8(image, alpha, 4, stream);
            mu = static_cast<float>(st.mean);
            sd = static_cast<float>(st.std);
        }
        P.tr = px::transfer_for(mu, sd, target_bgr, space == ColourSpace::Natural);
    }
    DeviceBuffer<float> lut(256, stream);
    lut.upload(tables.to_linear, 256);
    const dim3 block(kBlockX, kBlockY);
    const dim3 grid(static_cast<unsigned>((W + kBlockX - 1) / kBlockX),
                    static_cast<unsigned>((H + kBlockY - 1) / kBlockY));
    recolor_kernel<<<grid, block, 0, stream>>>(image, alpha, lut.data(), P, out);
    FACECORE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace cuda
}  // namespace facecore
