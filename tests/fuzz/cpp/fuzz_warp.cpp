// libFuzzer target for the warp family: warp_affine_u8, warp_affine_to_nchw_f32, warp_affine_f32
// with valid shapes, strided sources, any finite (near-singular, huge, tiny) matrices.
#include "fuzz_common.hpp"
#include "warp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fz::Reader r{data, size};
    const int which = static_cast<int>(r.range(0, 2));
    const std::int64_t h = r.range(1, 40), w = r.range(1, 40), c = r.range(1, 4), pad = r.range(0, 3);
    const std::int64_t n = r.range(1, 4), oh = r.range(1, 24), ow = r.range(1, 24);
    const bool inverse = r.flag();
    const auto border = static_cast<facecore::Border>(r.range(0, 1));
    std::vector<double> m(static_cast<std::size_t>(6 * n));
    for (auto& v : m) {
        const std::uint8_t k = r.byte();
        v = k < 16 ? (k < 8 ? 1e12 : -1e-9) : static_cast<double>(r.real(-3.0f, 3.0f)) * (k & 1 ? 30.0 : 1.0);
    }
    int fill[4] = {static_cast<int>(r.range(0, 255)), 7, 255, 0};
    float mean[4] = {r.real(0, 255), 127.5f, 0.0f, 1.0f}, sd[4] = {r.real(0.01f, 128), 128.0f, 1.0f, 2.0f};
    try {
        if (which == 2) {
            fz::Image<float> img(h, w, c == 2 ? 1 : c, pad);
            for (auto& v : img.buf) v = r.real(-2.0f, 2.0f);
            std::vector<float> out(static_cast<std::size_t>(n * oh * ow * img.view.channels));
            facecore::cpu::warp_affine_f32(img.cview(), m.data(), n, inverse, oh, ow, border, r.real(0, 1), out.data());
            return 0;
        }
        fz::Image<std::uint8_t> img(h, w, c, pad);
        r.fill(img.buf.data(), img.buf.size());
        if (which == 0) {
            std::vector<std::uint8_t> out(static_cast<std::size_t>(n * oh * ow * c));
            facecore::cpu::warp_affine_u8(img.cview(), m.data(), n, inverse, oh, ow, border, fill, out.data());
        } else {
            const bool swap = c >= 3 && r.flag();
            std::vector<float> out(static_cast<std::size_t>(n * c * oh * ow));
            facecore::cpu::warp_affine_to_nchw_f32(img.cview(), m.data(), n, inverse, oh, ow, border, fill, mean, sd,
                                                   swap, out.data());
        }
    } catch (const facecore::ArgumentError&) {
    }
    return 0;
}
