// Structure-aware input for the C++ libFuzzer targets: the fuzzer's bytes choose sizes,
// strides, matrices and pixel values *within* what the bindings accept, so every run reaches
// the kernel itself (the argument checks have their own atheris harness). ArgumentError from
// a kernel is an allowed answer; a crash or a sanitizer report is a finding.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "common.hpp"

namespace fz {

struct Reader {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t byte() {
        if (!n) return 0;
        --n;
        return *p++;
    }
    std::int64_t range(std::int64_t lo, std::int64_t hi) {  // inclusive
        std::uint32_t v = byte() | (std::uint32_t(byte()) << 8);
        return lo + static_cast<std::int64_t>(v % static_cast<std::uint32_t>(hi - lo + 1));
    }
    bool flag() { return byte() & 1; }
    float real(float lo, float hi) {  // mostly in [lo, hi]; sometimes an edge value
        const std::uint8_t k = byte();
        if (k < 8) {
            const float edge[] = {0.0f, 1.0f, -1.0f, 0.5f, 1e-7f, hi, lo, 0.999999f};
            return edge[k];
        }
        return lo + (hi - lo) * static_cast<float>(range(0, 65535)) / 65535.0f;
    }
    void fill(std::uint8_t* dst, std::size_t len) {  // pixels: the remaining bytes, repeated
        for (std::size_t i = 0; i < len; ++i) dst[i] = n ? p[i % n] : static_cast<std::uint8_t>(i * 37);
    }
};

// An image of h x w x c with `pad` extra elements per row (a row-strided view).
template <typename T>
struct Image {
    std::vector<T> buf;
    facecore::ImageView<T> view;
    Image(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t pad) {
        const std::int64_t stride = w * c + pad;
        buf.assign(static_cast<std::size_t>(h * stride), T{});
        view = {buf.data(), h, w, c, stride};
    }
    facecore::ImageView<const T> cview() const { return {buf.data(), view.height, view.width, view.channels, view.row_stride}; }
};

}  // namespace fz
