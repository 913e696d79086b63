#include "warp.hpp"

#include "parallel.hpp"

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

// One destination row of uint8 samples, interleaved (out_w * C values). Pixels whose four
// neighbours are inside the image (nearly all of a face crop) take a direct path without
// per-neighbour border checks; the rest go through neighbour_offsets. Same maths either way.
template <int C>
void sample_row_u8(const ImageView<const std::uint8_t>& src, const px::Affine& m, int y,
                   std::int64_t out_w, Border border, const float* fill, std::uint8_t* row) {
    const int W = static_cast<int>(src.width), H = static_cast<int>(src.height);
    for (std::int64_t x = 0; x < out_w; ++x) {
        const px::SamplePos p = px::sample_pos(m, static_cast<int>(x), y);
        std::uint8_t* o = row + x * C;
        if (p.x >= 0 && p.y >= 0 && p.x + 1 < W && p.y + 1 < H) {
            const std::uint8_t* a = src.data + static_cast<std::int64_t>(p.y) * src.row_stride +
                                    static_cast<std::int64_t>(p.x) * C;
            const std::uint8_t* b = a + src.row_stride;
            for (int c = 0; c < C; ++c)
                o[c] = px::saturate_u8(px::lerp2(a[c], a[C + c], b[c], b[C + c], p.fx, p.fy));
        } else {
            long long off[4];
            px::neighbour_offsets(p, H, W, src.row_stride, C, border, off);
            for (int c = 0; c < C; ++c)
                o[c] = px::saturate_u8(px::bilinear(src.data, off, p.fx, p.fy, c, fill[c]));
        }
    }
}

void sample_row_u8_any(int C, const ImageView<const std::uint8_t>& src, const px::Affine& m,
                       int y, std::int64_t out_w, Border border, const float* fill,
                       std::uint8_t* row) {
    switch (C) {
        case 1: sample_row_u8<1>(src, m, y, out_w, border, fill, row); break;
        case 3: sample_row_u8<3>(src, m, y, out_w, border, fill, row); break;
        case 4: sample_row_u8<4>(src, m, y, out_w, border, fill, row); break;
        default: sample_row_u8<2>(src, m, y, out_w, border, fill, row); break;
    }
}

void check_common(std::int64_t n, std::int64_t out_h, std::int64_t out_w, std::int64_t height,
                  std::int64_t width, std::int64_t channels) {
    require(n >= 1, "matrices: need at least one matrix");
    require(out_h >= 1 && out_w >= 1, "shape: output height and width must be positive");
    require(out_h <= 32767 && out_w <= 32767, "shape: output sides must be below 32768");
    require(height >= 1 && width >= 1, "image: height and width must be positive");
    require(height <= 32767 && width <= 32767, "image: sides must be below 32768");
    require(channels >= 1 && channels <= 4, "image: 1 to 4 channels");
    checked_size({n, out_h, out_w, channels}, "shape");
}

}  // namespace

void warp_affine_u8(const ImageView<const std::uint8_t>& src, const double* matrices,
                    std::int64_t n, bool inverse_given, std::int64_t out_h, std::int64_t out_w,
                    Border border, const int* fill, std::uint8_t* out) {
    check_common(n, out_h, out_w, src.height, src.width, src.channels);
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    const int C = static_cast<int>(src.channels);
    float fill_f[4] = {0, 0, 0, 0};
    for (int c = 0; c < C; ++c) fill_f[c] = static_cast<float>(fill[c]);
    parallel_for(n * out_h, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t i = r / out_h, y = r % out_h;
            sample_row_u8_any(C, src, maps[static_cast<std::size_t>(i)], static_cast<int>(y),
                              out_w, border, fill_f, out + r * out_w * C);
        }
    });
}

void warp_affine_to_nchw_f32(const ImageView<const std::uint8_t>& src, const double* matrices,
                             std::int64_t n, bool inverse_given, std::int64_t out_h,
                             std::int64_t out_w, Border border, const int* fill,
                             const float* mean, const float* std, bool swap_rb, float* out) {
    check_common(n, out_h, out_w, src.height, src.width, src.channels);
    const int C = static_cast<int>(src.channels);
    require(!swap_rb || C >= 3, "swap_rb: needs an image with 3 or 4 channels");
    for (int c = 0; c < C; ++c)
        require(std::isfinite(std[c]) && std[c] != 0.0f && std::isfinite(mean[c]),
                "std: must be finite and non-zero (mean finite)");
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    // (v - mean) / std for the 256 possible warped values of each output channel: the same
    // float expression NumPy evaluates, looked up instead of recomputed.
    std::vector<float> lut(static_cast<std::size_t>(C) * 256);
    for (int c = 0; c < C; ++c)
        for (int v = 0; v < 256; ++v)
            lut[static_cast<std::size_t>(c * 256 + v)] = (static_cast<float>(v) - mean[c]) / std[c];
    int source_channel[4] = {0, 1, 2, 3};
    if (swap_rb) std::swap(source_channel[0], source_channel[2]);
    float fill_f[4] = {0, 0, 0, 0};
    for (int c = 0; c < C; ++c) fill_f[c] = static_cast<float>(fill[c]);
    const std::int64_t plane = out_h * out_w;
    parallel_for(n * out_h, 16, [&](std::int64_t begin, std::int64_t end) {
        // The row is sampled as uint8 (what warp_affine_u8 gives), then normalised into the
        // planes through the table: the same values, one pass over the source.
        std::vector<std::uint8_t> row(static_cast<std::size_t>(out_w * C));
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t i = r / out_h, y = r % out_h;
            sample_row_u8_any(C, src, maps[static_cast<std::size_t>(i)], static_cast<int>(y),
                              out_w, border, fill_f, row.data());
            float* base = out + i * C * plane + y * out_w;
            for (int c = 0; c < C; ++c) {
                const float* table = lut.data() + c * 256;
                const std::uint8_t* v = row.data() + source_channel[c];
                float* o = base + c * plane;
                for (std::int64_t x = 0; x < out_w; ++x) o[x] = table[v[x * C]];
            }
        }
    });
}

void warp_affine_f32(const ImageView<const float>& src, const double* matrices, std::int64_t n,
                     bool inverse_given, std::int64_t out_h, std::int64_t out_w, Border border,
                     float fill, float* out) {
    check_common(n, out_h, out_w, src.height, src.width, src.channels);
    const std::vector<px::Affine> maps = sampling_maps(matrices, n, inverse_given);
    const int C = static_cast<int>(src.channels);
    parallel_for(n * out_h, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t i = r / out_h, y = r % out_h;
            float* dst = out + r * out_w * C;
            for_each_sample(maps[static_cast<std::size_t>(i)], y, out_w, src.height, src.width,
                            src.row_stride, C, border,
                            [&](std::int64_t x, const px::SamplePos& p, const long long* off) {
                                for (int c = 0; c < C; ++c)
                                    dst[x * C + c] =
                                        px::bilinear(src.data, off, p.fx, p.fy, c, fill);
                            });
        }
    });
}

}  // namespace cpu
}  // namespace facecore
