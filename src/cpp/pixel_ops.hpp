// Per-pixel maths shared by the C++ (src/cpp) and CUDA (src/cuda) kernels: both compile this
// header, so both give the same result by construction. Plain arithmetic only: no exceptions,
// no allocation, no std:: calls that CUDA lacks. Both builds turn off fused multiply-add.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.hpp"

namespace facecore {
namespace px {

// ------------------------------------------------------------------------------------- warp
// Bilinear sampling as OpenCV >= 4.11 / 5.x does it (its rewritten warpAffine): the inverse
// matrix in float32, source coordinates in float32, horizontal then vertical interpolation
// `a + f * (b - a)` in float32, uint8 results rounded to nearest (ties to even). Following
// it makes cv2.warpAffine a valid reference.

// Inverse map dst -> src: src = A * [x, y, 1].
struct Affine {
    float a00, a01, a02, a10, a11, a12;
};

struct SamplePos {
    int x, y;    // top-left neighbour (clamped far outside the image: no int overflow)
    float fx, fy;  // fractions in [0, 1)
};

FACECORE_HD int floor_clamped(float v) {
    // Beyond +-2^24 a float has no fraction; clamp far outside any image (sides < 32768).
    if (!(v > -1.0e6f)) return -1000000;  // also NaN
    if (v > 1.0e6f) return 1000000;
    return static_cast<int>(floorf(v));
}

FACECORE_HD SamplePos sample_pos(const Affine& m, int x, int y) {
    const float fx_ = static_cast<float>(x), fy_ = static_cast<float>(y);
    const float sx = m.a00 * fx_ + (m.a01 * fy_ + m.a02);
    const float sy = m.a10 * fx_ + (m.a11 * fy_ + m.a12);
    SamplePos p;
    p.x = floor_clamped(sx);
    p.y = floor_clamped(sy);
    p.fx = sx - static_cast<float>(p.x);
    p.fy = sy - static_cast<float>(p.y);
    if (!(p.fx >= 0.0f && p.fx < 1.0f)) p.fx = 0.0f;  // clamped or non-finite positions
    if (!(p.fy >= 0.0f && p.fy < 1.0f)) p.fy = 0.0f;
    return p;
}

FACECORE_HD int clamp_index(int v, int n) { return v < 0 ? 0 : (v >= n ? n - 1 : v); }

// The 4 neighbours' offsets into the image (-1: outside, the border value is used), in the
// order top-left, top-right, bottom-left, bottom-right.
FACECORE_HD void neighbour_offsets(const SamplePos& p, long long height, long long width,
                                   long long row_stride, int channels, Border border,
                                   long long off[4]) {
    const int xs[2] = {p.x, p.x + 1};
    const int ys[2] = {p.y, p.y + 1};
    for (int j = 0; j < 2; ++j) {
        for (int i = 0; i < 2; ++i) {
            int x = xs[i], y = ys[j];
            if (border == Border::Replicate) {
                x = clamp_index(x, static_cast<int>(width));
                y = clamp_index(y, static_cast<int>(height));
            } else if (x < 0 || y < 0 || x >= width || y >= height) {
                off[j * 2 + i] = -1;
                continue;
            }
            off[j * 2 + i] = y * row_stride + static_cast<long long>(x) * channels;
        }
    }
}

template <typename T>
FACECORE_HD float bilinear(const T* src, const long long off[4], float fx, float fy, int c,
                           float fill) {
    const float v00 = off[0] >= 0 ? static_cast<float>(src[off[0] + c]) : fill;
    const float v01 = off[1] >= 0 ? static_cast<float>(src[off[1] + c]) : fill;
    const float v10 = off[2] >= 0 ? static_cast<float>(src[off[2] + c]) : fill;
    const float v11 = off[3] >= 0 ? static_cast<float>(src[off[3] + c]) : fill;
    const float top = v00 + fx * (v01 - v00);
    const float bottom = v10 + fx * (v11 - v10);
    return top + fy * (bottom - top);
}

// Round to nearest, ties to even (cvRound), saturated to 0..255.
FACECORE_HD std::uint8_t saturate_u8(float v) {
    const float r = rintf(v);
    return static_cast<std::uint8_t>(r <= 0.0f ? 0 : (r >= 255.0f ? 255 : static_cast<int>(r)));
}

// ----------------------------------------------------------------------------------- refine
FACECORE_HD float clamp01(float v) { return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; }  // NaN -> 0

// p -> 1 - (1 - p)^power, p clamped to [0, 1] first. Integer powers multiply (exact, fast).
FACECORE_HD float sharpen(float p, float power, int int_power) {
    const float q = 1.0f - clamp01(p);
    float r;
    if (int_power > 0) {
        r = q;
        for (int i = 1; i < int_power; ++i) r = r * q;
    } else {
        r = powf(q, power);
    }
    return 1.0f - r;
}

// ------------------------------------------------------------------------------------ blend
// out = (1 - a) * base + a * effect, a clamped to [0, 1], rounded half up.
FACECORE_HD std::uint8_t blend_u8(std::uint8_t base, float effect, float a) {
    const float v = (1.0f - a) * static_cast<float>(base) + a * effect;
    const float r = v + 0.5f;
    return static_cast<std::uint8_t>(r <= 0.0f ? 0 : (r >= 255.0f ? 255 : static_cast<int>(r)));
}

// ------------------------------------------------------------------------ colour conversion
// OpenCV's float definitions (cv2.cvtColor on float32 images in [0, 1], sRGB, D65), so
// cv2.cvtColor is the reference. Two smooth curves use tables with linear interpolation:
// cube root on [0, 1] and the sRGB encoding curve on [0, 1]; their error is below 1e-4 of
// full scale, far under one grey level. The tables live in ColourTables (filled on the host,
// copied to the device by the CUDA build).
constexpr int kCbrtTable = 4096;
constexpr int kGammaTable = 4096;

struct ColourTables {
    float to_linear[256];            // sRGB uint8 -> linear
    float cbrt[kCbrtTable + 2];      // cbrt(i / kCbrtTable)
    float to_srgb[kGammaTable + 2];  // linear i / kGammaTable -> sRGB in [0, 1]
};

FACECORE_HD float srgb_to_linear(float c) {
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}
FACECORE_HD float linear_to_srgb(float c) {
    return c <= 0.0031308f ? 12.92f * c : 1.055f * powf(c, 1.0f / 2.4f) - 0.055f;
}

inline void fill_colour_tables(ColourTables& t) {
    for (int i = 0; i < 256; ++i) t.to_linear[i] = srgb_to_linear(static_cast<float>(i) / 255.0f);
    for (int i = 0; i < kCbrtTable + 2; ++i)
        t.cbrt[i] = static_cast<float>(std::cbrt(static_cast<double>(i) / kCbrtTable));
    for (int i = 0; i < kGammaTable + 2; ++i)
        t.to_srgb[i] = static_cast<float>(
            linear_to_srgb(static_cast<float>(static_cast<double>(i) / kGammaTable)));
}

FACECORE_HD float table_lookup(const float* table, int size, float v) {
    v = clamp01(v) * static_cast<float>(size);
    const int i = static_cast<int>(v);
    const float f = v - static_cast<float>(i);
    return table[i] + (table[i + 1] - table[i]) * f;
}

// XYZ white point and matrices as OpenCV's color_lab.cpp (sRGB primaries, D65).
constexpr float kXn = 0.950456f, kZn = 1.088754f;
constexpr float kLabThresh = 0.008856f;

FACECORE_HD float lab_f(const ColourTables& t, float v) {
    return v > kLabThresh ? table_lookup(t.cbrt, kCbrtTable, v) : 7.787f * v + 16.0f / 116.0f;
}

// Linear RGB -> Lab (L in [0, 100]).
FACECORE_HD void linear_rgb_to_lab(const ColourTables& t, float r, float g, float b, float& L,
                                   float& A, float& B) {
    const float X = (0.412453f * r + 0.357580f * g + 0.180423f * b) / kXn;
    const float Y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
    const float Z = (0.019334f * r + 0.119193f * g + 0.950227f * b) / kZn;
    const float fx = lab_f(t, X), fy = lab_f(t, Y), fz = lab_f(t, Z);
    L = Y > kLabThresh ? 116.0f * fy - 16.0f : 903.3f * Y;
    A = 500.0f * (fx - fy);
    B = 200.0f * (fy - fz);
}

// Lab -> sRGB in [0, 1] per channel (clipped to the gamut).
FACECORE_HD void lab_to_srgb(const ColourTables& t, float L, float A, float B, float& r, float& g,
                             float& b) {
    float Y, fy;
    if (L <= 8.0f) {  // 903.3 * 0.008856
        Y = L / 903.3f;
        fy = 7.787f * Y + 16.0f / 116.0f;
    } else {
        fy = (L + 16.0f) / 116.0f;
        Y = fy * fy * fy;
    }
    const float fx = A / 500.0f + fy;
    const float fz = fy - B / 200.0f;
    const float X = (fx > 0.206893f ? fx * fx * fx : (fx - 16.0f / 116.0f) / 7.787f) * kXn;
    const float Z = (fz > 0.206893f ? fz * fz * fz : (fz - 16.0f / 116.0f) / 7.787f) * kZn;
    const float lr = 3.240479f * X - 1.53715f * Y - 0.498535f * Z;
    const float lg = -0.969256f * X + 1.875991f * Y + 0.041556f * Z;
    const float lb = 0.055648f * X - 0.204043f * Y + 1.057311f * Z;
    r = table_lookup(t.to_srgb, kGammaTable, lr);
    g = table_lookup(t.to_srgb, kGammaTable, lg);
    b = table_lookup(t.to_srgb, kGammaTable, lb);
}

// Recolour in Lab: keep L (the texture), move a/b toward the target's by `strength`.
// bgr in/out in 0..255 floats; the target is given as its Lab a/b.
FACECORE_HD void recolor_lab_px(const ColourTables& t, const std::uint8_t* bgr, float target_a,
                                float target_b, float strength, float out[3]) {
    float L, A, B;
    linear_rgb_to_lab(t, t.to_linear[bgr[2]], t.to_linear[bgr[1]], t.to_linear[bgr[0]], L, A, B);
    A = A + strength * (target_a - A);
    B = B + strength * (target_b - B);
    float r, g, b;
    lab_to_srgb(t, L, A, B, r, g, b);
    out[0] = b * 255.0f;
    out[1] = g * 255.0f;
    out[2] = r * 255.0f;
}

// HSV as OpenCV's float definition: H in degrees [0, 360), S and V in [0, 1].
FACECORE_HD void rgb_to_hsv(float r, float g, float b, float& h, float& s, float& v) {
    const float mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    const float mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    const float diff = mx - mn;
    v = mx;
    s = mx > 0.0f ? diff / mx : 0.0f;
    if (diff <= 0.0f) {
        h = 0.0f;
        return;
    }
    const float k = 60.0f / diff;
    if (mx == r)
        h = (g - b) * k;
    else if (mx == g)
        h = (b - r) * k + 120.0f;
    else
        h = (r - g) * k + 240.0f;
    if (h < 0.0f) h = h + 360.0f;
}

FACECORE_HD void hsv_to_rgb(float h, float s, float v, float& r, float& g, float& b) {
    if (s <= 0.0f) {
        r = g = b = v;
        return;
    }
    h = h / 60.0f;
    int sector = static_cast<int>(floorf(h));
    const float f = h - static_cast<float>(sector);
    sector = ((sector % 6) + 6) % 6;
    const float p = v * (1.0f - s);
    const float q = v * (1.0f - s * f);
    const float u = v * (1.0f - s * (1.0f - f));
    switch (sector) {
        case 0: r = v; g = u; b = p; break;
        case 1: r = q; g = v; b = p; break;
        case 2: r = p; g = v; b = u; break;
        case 3: r = p; g = q; b = v; break;
        case 4: r = u; g = p; b = v; break;
        default: r = v; g = p; b = q; break;
    }
}

// Recolour in HSV: hue moves toward the target's along the shorter arc and saturation toward
// the target's, both by `strength`; V (the texture) stays.
FACECORE_HD void recolor_hsv_px(const std::uint8_t* bgr, float target_h, float target_s,
                                float strength, float out[3]) {
    const float r = static_cast<float>(bgr[2]) / 255.0f, g = static_cast<float>(bgr[1]) / 255.0f,
                b = static_cast<float>(bgr[0]) / 255.0f;
    float h, s, v;
    rgb_to_hsv(r, g, b, h, s, v);
    float dh = target_h - h;
    if (dh > 180.0f) dh = dh - 360.0f;
    if (dh < -180.0f) dh = dh + 360.0f;
    h = h + strength * dh;
    if (h < 0.0f) h = h + 360.0f;
    if (h >= 360.0f) h = h - 360.0f;
    s = s + strength * (target_s - s);
    float ro, go, bo;
    hsv_to_rgb(h, s, v, ro, go, bo);
    out[0] = bo * 255.0f;
    out[1] = go * 255.0f;
    out[2] = ro * 255.0f;
}

}  // namespace px
}  // namespace facecore
