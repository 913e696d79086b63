// The uint8 warp's rows for 3- and 4-channel images, compiled for x86-64-v3 (AVX2); CMake adds
// -march=x86-64-v3 to this file only. Elsewhere it exports null pointers and warp.cpp uses its
// baseline loops. Same maths as pixel_ops.hpp's, lane for lane (split_coord, lerp2 in float32
// without FMA, rounding to nearest even, (v - mean) / std), so both builds give the same bits.
#include <cstdint>
#include <cstring>

#include "pixel_ops.hpp"
#include "warp_block.hpp"

#if defined(FACECORE_HAVE_AVX2_TU)
#include <immintrin.h>
#endif

namespace facecore {
namespace cpu {

#if defined(FACECORE_HAVE_AVX2_TU)
namespace {

constexpr int kChunk = 64;  // pixels whose coordinates are computed together (a multiple of 8)

inline std::uint32_t load_u32(const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Pixels j and j + 4 of a group of 8 (pa: the top-left byte of each pixel's tap pair, tap at
// offset `off` from it) -> 8 floats: pixel j's C values (and junk) in the low lane, j + 4's in
// the high lane.
inline __m256 taps(const std::uint8_t* const* pa, int j, int off) {
    __m128i t = _mm_cvtsi32_si128(static_cast<int>(load_u32(pa[j] + off)));
    t = _mm_insert_epi32(t, static_cast<int>(load_u32(pa[j + 4] + off)), 1);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(t));
}

// The weight of pixels j and j + 4 spread over their lanes.
inline __m256 spread(__m256 f, int j) {
    return _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(j, j, j, j, j + 4, j + 4, j + 4, j + 4));
}

template <int C>
void warp_row(const WarpRowArgs& A) {
    static_assert(C == 3 || C == 4, "3 or 4 channels");
    const int W = static_cast<int>(A.width), H = static_cast<int>(A.height);
    const std::int64_t rs = A.row_stride;
    const px::Affine m = *A.map;  // a local: stores to the arrays below cannot alias it
    const float yf = static_cast<float>(A.y);
    const float row_x = m.a01 * yf + m.a02, row_y = m.a11 * yf + m.a12;
    // Taps of pixels outside the fast path, laid out as in the image: 2 rows of 8 bytes.
    alignas(16) std::uint8_t slow[kChunk][2][8];
    alignas(32) float fxs[kChunk], fys[kChunk];
    int ixs[kChunk], iys[kChunk], inside[kChunk];
    std::int64_t offs[kChunk];
    const std::uint8_t* pa[kChunk];
    const std::uint8_t* pb[kChunk];
    alignas(32) float tmp_planes[4][8];
    alignas(16) std::uint8_t tmp_u8[8 * 4 + 16];
    for (std::int64_t x0 = 0; x0 < A.out_w; x0 += kChunk) {
        const int n = static_cast<int>(A.out_w - x0 < kChunk ? A.out_w - x0 : kChunk);
        const int n8 = (n + 7) & ~7;  // padded pixels are computed and not stored
        const int xi = static_cast<int>(x0);
        for (int k = 0; k < n8; ++k) {
            const float xf = static_cast<float>(xi + k);
            px::split_coord(m.a00 * xf + row_x, ixs[k], fxs[k]);
            px::split_coord(m.a10 * xf + row_y, iys[k], fys[k]);
        }
        for (int k = 0; k < n8; k += 4) {  // the chunk's source lines, requested up front
            if (ixs[k] >= 0 && iys[k] >= 0 && ixs[k] + 1 < W && iys[k] + 1 < H) {
                const std::uint8_t* a = A.src + iys[k] * rs + static_cast<std::int64_t>(ixs[k]) * C;
                __builtin_prefetch(a);
                __builtin_prefetch(a + rs);
            }
        }
        // Fast pixels: all four taps inside; a 4-byte read of a 3-channel tap takes one byte
        // more, which must stay inside the buffer (only the last row's last pixel is not).
        // Branch-free, so it vectorises; the others take their taps from `slow`.
        int outside = 0;
        for (int k = 0; k < n8; ++k) {
            const int ix = ixs[k], iy = iys[k];
            const bool in = ix >= 0 && iy >= 0 && ix + 1 < W && iy + 1 < H &&
                            (C == 4 || ix + 2 < W || iy + 2 < H);
            inside[k] = in ? 1 : 0;
            outside += in ? 0 : 1;
            offs[k] =
                in ? static_cast<std::int64_t>(iy) * rs + static_cast<std::int64_t>(ix) * C : 0;
        }
        for (int k = 0; k < n8; ++k) {
            pa[k] = A.src + offs[k];
            pb[k] = pa[k] + rs;
        }
        for (int k = 0; outside > 0 && k < n8; ++k) {
            if (inside[k]) continue;
            px::SamplePos p;
            p.x = ixs[k];
            p.y = iys[k];
            long long off[4];
            px::neighbour_offsets(p, H, W, rs, C, A.border, off);
            std::memset(slow[k], 0, sizeof(slow[k]));
            for (int j = 0; j < 4; ++j)
                for (int c = 0; c < C; ++c)
                    slow[k][j >> 1][(j & 1) * C + c] =
                        off[j] >= 0 ? A.src[off[j] + c] : static_cast<std::uint8_t>(A.fill[c]);
            pa[k] = slow[k][0];
            pb[k] = slow[k][1];
        }
        for (int g = 0; g < n8; g += 8) {
            const __m256 FX = _mm256_load_ps(fxs + g), FY = _mm256_load_ps(fys + g);
            __m256 v[4];
            for (int j = 0; j < 4; ++j) {
                const __m256 v00 = taps(pa + g, j, 0), v01 = taps(pa + g, j, C);
                const __m256 v10 = taps(pb + g, j, 0), v11 = taps(pb + g, j, C);
                const __m256 fx = spread(FX, j), fy = spread(FY, j);
                // px::lerp2: horizontal, then vertical
                const __m256 top = _mm256_add_ps(v00, _mm256_mul_ps(fx, _mm256_sub_ps(v01, v00)));
                const __m256 bot = _mm256_add_ps(v10, _mm256_mul_ps(fx, _mm256_sub_ps(v11, v10)));
                const __m256 r = _mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bot, top)));
                // px::saturate_u8: rint (in 0..255 already: taps and fill are uint8)
                v[j] = _mm256_round_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            }
            const int cnt = n - g < 8 ? n - g : 8;
            if (A.row_u8 != nullptr) {
                const __m256i i01 =
                    _mm256_packus_epi32(_mm256_cvtps_epi32(v[0]), _mm256_cvtps_epi32(v[1]));
                const __m256i i23 =
                    _mm256_packus_epi32(_mm256_cvtps_epi32(v[2]), _mm256_cvtps_epi32(v[3]));
                __m256i bytes = _mm256_packus_epi16(i01, i23);  // per lane: 4 pixels x 4 bytes
                if (C == 3)
                    bytes = _mm256_shuffle_epi8(
                        bytes,
                        _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0,
                                         1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
                std::uint8_t* o = A.row_u8 + (x0 + g) * C;
                std::uint8_t* dst = cnt == 8 ? o : tmp_u8;
                const __m128i lo = _mm256_castsi256_si128(bytes);
                const __m128i hi = _mm256_extracti128_si256(bytes, 1);
                if (C == 4) {
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), lo);
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), hi);
                } else {  // 12 bytes a lane: never a byte past the group
                    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), lo);
                    const int lo_tail = _mm_extract_epi32(lo, 2),
                              hi_tail = _mm_extract_epi32(hi, 2);
                    std::memcpy(dst + 8, &lo_tail, 4);
                    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 12), hi);
                    std::memcpy(dst + 20, &hi_tail, 4);
                }
                if (cnt < 8) std::memcpy(o, tmp_u8, static_cast<std::size_t>(cnt * C));
            } else {
                // 4x4 transposes within each lane: lane 0 gives pixels 0..3 of each channel,
                // lane 1 pixels 4..7.
                const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]);
                const __m256 t1 = _mm256_unpackhi_ps(v[0], v[1]);
                const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]);
                const __m256 t3 = _mm256_unpackhi_ps(v[2], v[3]);
                __m256 ch[4];
                ch[0] = _mm256_castpd_ps(
                    _mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
                ch[1] = _mm256_castpd_ps(
                    _mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
                ch[2] = _mm256_castpd_ps(
                    _mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
                ch[3] = _mm256_castpd_ps(
                    _mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
                for (int c = 0; c < C; ++c) {
                    const __m256 val = ch[A.source_channel[c]];
                    const __m256 r = _mm256_div_ps(_mm256_sub_ps(val, _mm256_set1_ps(A.mean[c])),
                                                   _mm256_set1_ps(A.std[c]));
                    float* o = A.planes[c] + x0 + g;
                    if (cnt == 8) {
                        _mm256_storeu_ps(o, r);
                    } else {
                        _mm256_store_ps(tmp_planes[c], r);
                        std::memcpy(o, tmp_planes[c], static_cast<std::size_t>(cnt) * 4);
                    }
                }
            }
        }
    }
}

}  // namespace

namespace avx2 {
const WarpRowFn warp_row3 = &warp_row<3>;
const WarpRowFn warp_row4 = &warp_row<4>;
}  // namespace avx2
#else
namespace avx2 {
const WarpRowFn warp_row3 = nullptr;
const WarpRowFn warp_row4 = nullptr;
}  // namespace avx2
#endif

}  // namespace cpu
}  // namespace facecore
