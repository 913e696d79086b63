// libFuzzer target for the blend family: blend_u8 and recolor_u8 (Lab and HSV) with strided
// views, alpha anywhere in [0, 1] and at its edges, any target colour and strength.
#include "fuzz_common.hpp"
#include "blend.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fz::Reader r{data, size};
    const std::int64_t h = r.range(1, 40), w = r.range(1, 70);
    const bool recolor = r.flag();
    const std::int64_t c = recolor ? 3 : r.range(1, 4);
    fz::Image<std::uint8_t> a(h, w, c, r.range(0, 3)), b(h, w, c, r.range(0, 3)), o(h, w, c, r.range(0, 3));
    fz::Image<float> al(h, w, 1, r.range(0, 3));
    for (auto& v : al.buf) v = r.real(0.0f, 1.0f);
    float target[3] = {static_cast<float>(r.range(0, 255)), static_cast<float>(r.range(0, 255)),
                       static_cast<float>(r.range(0, 255))};
    const float strength = r.real(0.0f, 1.0f);
    const auto space = static_cast<facecore::ColourSpace>(r.range(0, 1));
    r.fill(a.buf.data(), a.buf.size());
    for (std::size_t i = 0; i < b.buf.size(); ++i) b.buf[i] = static_cast<std::uint8_t>(255 - a.buf[i % a.buf.size()] + i);
    try {
        if (recolor)
            facecore::cpu::recolor_u8(a.cview(), al.cview(), space, target, strength, o.view);
        else
            facecore::cpu::blend_u8(a.cview(), b.cview(), al.cview(), o.view);
    } catch (const facecore::ArgumentError&) {
    }
    return 0;
}
