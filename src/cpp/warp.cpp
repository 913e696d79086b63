#include "warp.hpp"

#include <algorithm>

#include "isa.hpp"
#include "parallel.hpp"
#include "warp_block.hpp"

namespace facecore {
namespace cpu {
namespace {

// Calls emit(x, offsets, weights-fraction) for every pixel of destination row `y` of map `m`.
template <typename Emit>
inline void for_each_sample(const px::Affine& m, std::int64_t y, std::int64_t out_w,
                            std::int64_t height, std::int64_t width, std::int64_t row_stride,
                            int channels, Border border, Emit&& emit) {
    for (std::int64_t x = 0; x < out_w; ++x) {
        const px::SamplePos p = px::sample_pos(m, static_cast<int>(x), static_cast<int>(y));
        long long off[4];
        px::neighbour_offsets(p, height, width, row_stride, channels, border, off);
        emit(x, p, off);
    }
}

// Destination pixels are sampled in chunks, in three passes, as OpenCV's SIMD warp does:
// (1) source coordinates for the whole chunk (vectorised), (2) the four neighbours of each
// pixel gathered into planar float arrays (independent loads the CPU overlaps; pixels whose
// neighbours are all inside skip the border logic), (3) interpolation and rounding
// (vectorised). The maths is pixel_ops.hpp's, so results equal the per-pixel form.
constexpr int kChunk = 64;

template <int C>
void sample_chunk_u8(const ImageView<const std::uint8_t>& src, const px::Affine& m, int y, int x0,
                     int n, Border border, const float* fill, std::uint8_t (*planes)[kChunk]) {
    const int W = static_cast<int>(src.width), H = static_cast<int>(src.height);
    int ix[kChunk], iy[kChunk];
    float fx[kChunk], fy[kChunk];
    const float yf = static_cast<float>(y);
    const float row_x = m.a01 * yf + m.a02, row_y = m.a11 * yf + m.a12;
    for (int k = 0; k < n; ++k) {
        const float xf = static_cast<float>(x0 + k);
        px::split_coord(m.a00 * xf + row_x, ix[k], fx[k]);
        px::split_coord(m.a10 * xf + row_y, iy[k], fy[k]);
    }
    // The source rows a crop walks through are new to the cache at every output row, and a
    // row segment is too short for the hardware prefetcher to learn: ask for the chunk's lines
    // up front so their misses overlap instead of stalling one by one.
#if defined(__GNUC__)
    for (int k = 0; k < n; k += 4) {
        if (ix[k] >= 0 && iy[k] >= 0 && ix[k] + 1 < W && iy[k] + 1 < H) {
            const std::uint8_t* a = src.data + static_cast<std::int64_t>(iy[k]) * src.row_stride +
                                    static_cast<std::int64_t>(ix[k]) * C;
            __builtin_prefetch(a);
            __builtin_prefetch(a + src.row_stride);
        }
    }
#endif
    // Neighbour values stay uint8 here (byte copies); the vectorised pass converts them.
    // Border values are uint8 too (fill is validated to 0..255).
    std::uint8_t v[4][static_cast<std::size_t>(C)][kChunk];
    for (int k = 0; k < n; ++k) {
        if (ix[k] >= 0 && iy[k] >= 0 && ix[k] + 1 < W && iy[k] + 1 < H) {
            const std::uint8_t* a = src.data + static_cast<std::int64_t>(iy[k]) * src.row_stride +
                                    static_cast<std::int64_t>(ix[k]) * C;
            const std::uint8_t* b = a + src.row_stride;
            for (int c = 0; c < C; ++c) {
                v[0][c][k] = a[c];
                v[1][c][k] = a[C + c];
                v[2][c][k] = b[c];
                v[3][c][k] = b[C + c];
            }
        } else {
            px::SamplePos p;
            p.x = ix[k];
            p.y = iy[k];
            long long off[4];
            px::neighbour_offsets(p, H, W, src.row_stride, C, border, off);
            for (int j = 0; j < 4; ++j)
                for (int c = 0; c < C; ++c)
                    v[j][c][k] =
                        off[j] >= 0 ? src.data[off[j] + c] : static_cast<std::uint8_t>(fill[c]);
        }
    }
    for (int c = 0; c < C; ++c)
        for (int k = 0; k < n; ++k)
            planes[c][k] = px::saturate_u8(px::lerp2(
                static_cast<float>(v[0][c][k]), static_cast<float>(v[1][c][k]),
                static_cast<float>(v[2][c][k]), static_cast<float>(v[3][c][k]), fx[k], fy[k]));
}

// One destination row: interleaved uint8 (row_u8, out_w * C) or, when row_u8 is null,
// normalised float planes (planes_f32[c] + x, from source channel source_channel[c]).
template <int C>
void sample_row(const ImageView<const std::uint8_t>& src, const px::Affine& m, int y,
                std::int64_t out_w, Border border, const float* fill, std::uint8_t* row_u8,
                const float* mean, const float* std_dev, const int* source_channel,
                float* const* planes_f32) {
    if (C == 3 || C == 4) {  // the AVX2 clone: 8 pixels a step, two per vector
        static const WarpRowFn avx2_row =
            pick(C == 3 ? avx2::warp_row3 : avx2::warp_row4, static_cast<WarpRowFn>(nullptr));
        if (avx2_row != nullptr) {
            const WarpRowArgs args{src.data, src.height, src.width,      src.row_stride, &m,
                                   y,        out_w,      border,         fill,           row_u8,
                                   mean,     std_dev,    source_channel, planes_f32};
            avx2_row(args);
            return;
        }
    }
    std::uint8_t planes[static_cast<std::size_t>(C)][kChunk];
    for (std::int64_t x0 = 0; x0 < out_w; x0 += kChunk) {
        const int n = static_cast<int>(std::min<std::int64_t>(kChunk, out_w - x0));
        sample_chunk_u8<C>(src, m, y, static_cast<int>(x0), n, border, fill, planes);
        if (row_u8) {
            std::uint8_t* o = row_u8 + x0 * C;
            for (int k = 0; k < n; ++k)
                for (int c = 0; c < C; ++c) o[k * C + c] = planes[c][k];
        } else {
            // (v - mean) / std: NumPy's float32 expression (divide, not multiply by 1/std).
            for (int c = 0; c < C; ++c) {
                const float mu = mean[c], sd = std_dev[c];
                const std::uint8_t* p = planes[source_channel[c]];
                float* o = planes_f32[c] + x0;
                for (int k = 0; k < n; ++k) o[k] = (static_cast<float>(p[k]) - mu) / sd;
            }
        }
    }
}

void sample_row_any(int C, const ImageView<const std::uint8_t>& src, const px::Affine& m, int y,
                    std::int64_t out_w, Border border, const float* fill, std::uint8_t* row_u8,
                    const float* mean = nullptr, const float* std_dev = nullptr,
                    const int* source_channel = nullptr, float* const* planes_f32 = nullptr) {
    switch (C) {
        case 1:
            sample_row<1>(src, m, y, out_w, border, fill, row_u8, mean, std_dev, source_channel,
                          planes_f32);
            break;
        case 3:
            sample_row<3>(src, m, y, out_w, border, fill, row_u8, mean, std_dev, source_channel,
                          planes_f32);
            break;
        case 4:
            sample_row<4>(src, m, y, out_w, border, fill, row_u8, mean, std_dev, source_channel,
                          planes_f32);
            break;
        default:
            sample_row<2>(src, m, y, out_w, border, fill, row_u8, mean, std_dev, source_channel,
                          planes_f32);
            break;
    }
}

}  // namespace

void warp_affine_u8(const ImageView<const std::uint8_t>& src, const double* matrices,
                    std::int64_t n, bool inverse_given, std::int64_t out_h, std::int64_t out_w,
                    Border border, const int* fill, std::uint8_t* out) {
    check_warp_args(n, out_h, out_w, src.height, src.width, src.channels);
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    const int C = static_cast<int>(src.channels);
    float fill_f[4] = {0, 0, 0, 0};
    for (int c = 0; c < C; ++c) fill_f[c] = static_cast<float>(fill[c]);
    parallel_for(n * out_h, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t i = r / out_h, y = r % out_h;
            sample_row_any(C, src, maps[static_cast<std::size_t>(i)], static_cast<int>(y), out_w,
                           border, fill_f, out + r * out_w * C);
        }
    });
}

void warp_affine_to_nchw_f32(const ImageView<const std::uint8_t>& src, const double* matrices,
                             std::int64_t n, bool inverse_given, std::int64_t out_h,
                             std::int64_t out_w, Border border, const int* fill, const float* mean,
                             const float* std, bool swap_rb, float* out) {
    check_warp_args(n, out_h, out_w, src.height, src.width, src.channels);
    const int C = static_cast<int>(src.channels);
    check_normalise_args(C, mean, std, swap_rb);
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    int source_channel[4] = {0, 1, 2, 3};
    if (swap_rb) std::swap(source_channel[0], source_channel[2]);
    float fill_f[4] = {0, 0, 0, 0};
    for (int c = 0; c < C; ++c) fill_f[c] = static_cast<float>(fill[c]);
    const std::int64_t plane = out_h * out_w;
    parallel_for(n * out_h, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t i = r / out_h, y = r % out_h;
            float* base = out + i * C * plane + y * out_w;
            float* planes[4] = {base, base + plane, base + 2 * plane, base + 3 * plane};
            sample_row_any(C, src, maps[static_cast<std::size_t>(i)], static_cast<int>(y), out_w,
                           border, fill_f, nullptr, mean, std, source_channel, planes);
        }
    });
}

void warp_affine_f32(const ImageView<const float>& src, const double* matrices, std::int64_t n,
                     bool inverse_given, std::int64_t out_h, std::int64_t out_w, Border border,
                     float fill, float* out) {
    check_warp_args(n, out_h, out_w, src.height, src.width, src.channels);
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    const int C = static_cast<int>(src.channels);
    parallel_for(n * out_h, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t i = r / out_h, y = r % out_h;
            float* dst = out + r * out_w * C;
            for_each_sample(
                maps[static_cast<std::size_t>(i)], y, out_w, src.height, src.width, src.row_stride,
                C, border, [&](std::int64_t x, const px::SamplePos& p, const long long* off) {
                    for (int c = 0; c < C; ++c)
                        dst[x * C + c] = px::bilinear(src.data, off, p.fx, p.fy, c, fill);
                });
        }
    });
}

}  // namespace cpu
}  // namespace facecore
