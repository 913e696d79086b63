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
    // The source lines of destination row y + kPrefetchRows, requested now (as the AVX2
    // rows do): a rotated crop's row meets a new source line at nearly every pixel, in an
    // order the hardware prefetcher does not guess. Truncated coordinates clamped inside: a
    // prefetch needs no exact tap.
#if defined(__GNUC__)
    if (H >= 2) {
        const float yp = static_cast<float>(y + kPrefetchRows);
        const float px_ = m.a01 * yp + m.a02, py_ = m.a11 * yp + m.a12;
        const float xmax = static_cast<float>(W > 1 ? W - 2 : 0);
        const float ymax = static_cast<float>(H > 1 ? H - 2 : 0);
        for (int k = 0; k < n; ++k) {
            const float xf = static_cast<float>(x0 + k);
            const float sx = std::min(std::max(m.a00 * xf + px_, 0.0f), xmax);
            const float sy = std::min(std::max(m.a10 * xf + py_, 0.0f), ymax);
            const std::uint8_t* a = src.data + static_cast<std::int64_t>(sy) * src.row_stride +
                                    static_cast<std::int64_t>(sx) * C;
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

// What every row of one call shares.
struct RowSetup {
    ImageView<const std::uint8_t> src;
    Border border;
    const float* fill;            // per channel, as float
    const float* mean = nullptr;  // tensor output only, per output channel
    const float* std_dev = nullptr;
    const float* inv_std = nullptr;  // see exact_reciprocals
    const int* source_channel = nullptr;
    WarpRowFn avx2_row = nullptr;  // null: the baseline loops
};

// One destination row: interleaved uint8 (row_u8, out_w * C) or, when row_u8 is null,
// normalised float planes (planes_f32[c] + x, from source channel source_channel[c]).
template <int C>
void sample_row(const RowSetup& S, const px::Affine& m, int y, std::int64_t out_w,
                std::uint8_t* row_u8, float* const* planes_f32) {
    if (S.avx2_row != nullptr) {  // the AVX2 clone: 8 pixels a step, two per vector
        WarpRowArgs args{};
        args.src = S.src.data;
        args.height = S.src.height;
        args.width = S.src.width;
        args.row_stride = S.src.row_stride;
        args.map = &m;
        args.y = y;
        args.out_w = out_w;
        args.border = S.border;
        args.fill = S.fill;
        args.row_u8 = row_u8;
        args.mean = S.mean;
        args.std = S.std_dev;
        args.inv_std = S.inv_std;
        args.source_channel = S.source_channel;
        args.planes = planes_f32;
        S.avx2_row(args);
        return;
    }
    std::uint8_t planes[static_cast<std::size_t>(C)][kChunk];
    for (std::int64_t x0 = 0; x0 < out_w; x0 += kChunk) {
        const int n = static_cast<int>(std::min<std::int64_t>(kChunk, out_w - x0));
        sample_chunk_u8<C>(S.src, m, y, static_cast<int>(x0), n, S.border, S.fill, planes);
        if (row_u8) {
            std::uint8_t* o = row_u8 + x0 * C;
            for (int k = 0; k < n; ++k)
                for (int c = 0; c < C; ++c) o[k * C + c] = planes[c][k];
        } else {
            // (v - mean) / std: NumPy's float32 expression (divide, not multiply by 1/std).
            for (int c = 0; c < C; ++c) {
                const float mu = S.mean[c], sd = S.std_dev[c];
                const std::uint8_t* p = planes[S.source_channel[c]];
                float* o = planes_f32[c] + x0;
                for (int k = 0; k < n; ++k) o[k] = (static_cast<float>(p[k]) - mu) / sd;
            }
        }
    }
}

void sample_row_any(int C, const RowSetup& S, const px::Affine& m, int y, std::int64_t out_w,
                    std::uint8_t* row_u8, float* const* planes_f32) {
    switch (C) {
        case 1:
            sample_row<1>(S, m, y, out_w, row_u8, planes_f32);
            break;
        case 3:
            sample_row<3>(S, m, y, out_w, row_u8, planes_f32);
            break;
        case 4:
            sample_row<4>(S, m, y, out_w, row_u8, planes_f32);
            break;
        default:
            sample_row<2>(S, m, y, out_w, row_u8, planes_f32);
            break;
    }
}

// The AVX2 rows for this image, or null: they exist for 3 and 4 channels, and address the
// image with 32-bit offsets, so its bytes (plus one 16-byte read) must span less than 2^31.
WarpRowFn avx2_row_for(const ImageView<const std::uint8_t>& src) {
    static const WarpRowFn row3 = pick(avx2::warp_row3, static_cast<WarpRowFn>(nullptr));
    static const WarpRowFn row4 = pick(avx2::warp_row4, static_cast<WarpRowFn>(nullptr));
    const std::int64_t span = (src.height - 1) * src.row_stride + src.width * src.channels;
    if (span + 64 >= (std::int64_t{1} << 31)) return nullptr;
    return src.channels == 3 ? row3 : src.channels == 4 ? row4 : nullptr;
}

// 1 / std[c] where (v - mean[c]) * (1 / std[c]) rounds to the same float32 as
// (v - mean[c]) / std[c] for every uint8 v (std a power of two, for instance): the multiply
// is several times cheaper than the division. Else inv stays empty (returns false).
bool exact_reciprocals(int C, const float* mean, const float* std_dev, float* inv) {
    for (int c = 0; c < C; ++c) {
        const float r = 1.0f / std_dev[c];
        for (int v = 0; v < 256; ++v) {
            const float d = static_cast<float>(v) - mean[c];
            if (d * r != d / std_dev[c]) return false;
        }
        inv[c] = r;
    }
    return true;
}

// Destination rows of all crops are the parallel work items: one output row costs about the
// same whatever the face's size, so equal runs of rows are equal work. Runs of `kRowsPerPiece`
// rows at least, up to 16 pieces a thread, taken in turn: the threads stay even when one of
// them is delayed (another process on its core) or a crop's rows cost more (a large rotated
// face misses the cache more often).
constexpr std::int64_t kRowsPerPiece = 16;

template <typename Row>
void for_each_row(std::int64_t n, std::int64_t out_h, Row&& row) {
    parallel_for(
        n * out_h, kRowsPerPiece,
        [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t r = begin; r < end; ++r) row(r / out_h, r % out_h);
        },
        16);
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
    RowSetup S{src, border, fill_f};
    S.avx2_row = avx2_row_for(src);
    for_each_row(n, out_h, [&](std::int64_t i, std::int64_t y) {
        sample_row_any(C, S, maps[static_cast<std::size_t>(i)], static_cast<int>(y), out_w,
                       out + (i * out_h + y) * out_w * C, nullptr);
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
    float inv_std[4] = {1, 1, 1, 1};
    RowSetup S{src, border, fill_f, mean, std};
    S.inv_std = exact_reciprocals(C, mean, std, inv_std) ? inv_std : nullptr;
    S.source_channel = source_channel;
    S.avx2_row = avx2_row_for(src);
    const std::int64_t plane = out_h * out_w;
    for_each_row(n, out_h, [&](std::int64_t i, std::int64_t y) {
        float* base = out + i * C * plane + y * out_w;
        float* planes[4] = {base, base + plane, base + 2 * plane, base + 3 * plane};
        sample_row_any(C, S, maps[static_cast<std::size_t>(i)], static_cast<int>(y), out_w, nullptr,
                       planes);
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
