// The one pybind11 file of facecore._core: convert and check every argument while holding the
// GIL, then release it around the plain C++ kernel. The Python wrappers in facecore.kernels
// validate first with friendlier messages; these checks are the second line and cannot be
// switched off. Bad arguments raise TypeError / ValueError naming the argument.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "bind_checks.hpp"
#include "blend.hpp"
#include "common.hpp"
#include "guided.hpp"
#include "parallel.hpp"
#include "refine.hpp"
#include "warp.hpp"
#include "windows.hpp"

namespace py = pybind11;
using facecore::Border;
using facecore::ColourSpace;
using facecore::ImageView;
using facecore::Reduce;
using facecore::bind::contiguous_in;
using facecore::bind::fill_in;
using facecore::bind::host_layout;
using facecore::bind::matrices_in;
using facecore::bind::per_channel;
using facecore::bind::require_dtype;
using facecore::bind::shape_of;

namespace {

// (H, W) or (H, W, C) with contiguous pixels; rows may be strided (a crop of a frame).
template <typename T>
ImageView<T> image_view(const py::array& a, const char* name, bool writable = false) {
    require_dtype<T>(a, name);
    return facecore::bind::image_layout<T>(host_layout(a, name), writable);
}

template <typename T>
T* contiguous_out(py::array& a, const char* name, std::initializer_list<std::int64_t> shape) {
    require_dtype<T>(a, name);
    return facecore::bind::out_layout<T>(host_layout(a, name), shape);
}

// ------------------------------------------------------------------------------------- warp
void warp_affine_u8(const py::array& image, const py::array& matrices, std::int64_t out_h,
                    std::int64_t out_w, bool inverse, Border border, const py::array& fill,
                    py::array out) {
    const auto src = image_view<const std::uint8_t>(image, "image");
    std::int64_t n;
    const double* m = matrices_in(matrices, n);
    const int* f = fill_in(fill, src.channels);
    std::uint8_t* o = contiguous_out<std::uint8_t>(
        out, "out",
        image.ndim() == 3 ? std::initializer_list<std::int64_t>{n, out_h, out_w, src.channels}
                          : std::initializer_list<std::int64_t>{n, out_h, out_w});
    py::gil_scoped_release nogil;
    facecore::cpu::warp_affine_u8(src, m, n, inverse, out_h, out_w, border, f, o);
}

void warp_affine_to_nchw_f32(const py::array& image, const py::array& matrices, std::int64_t out_h,
                             std::int64_t out_w, bool inverse, Border border, const py::array& fill,
                             const py::array& mean, const py::array& std, bool swap_rb,
                             py::array out) {
    const auto src = image_view<const std::uint8_t>(image, "image");
    std::int64_t n;
    const double* m = matrices_in(matrices, n);
    const int* f = fill_in(fill, src.channels);
    const float* mu = per_channel(mean, "mean", src.channels);
    const float* sd = per_channel(std, "std", src.channels);
    float* o = contiguous_out<float>(out, "out", {n, src.channels, out_h, out_w});
    py::gil_scoped_release nogil;
    facecore::cpu::warp_affine_to_nchw_f32(src, m, n, inverse, out_h, out_w, border, f, mu, sd,
                                           swap_rb, o);
}

void warp_affine_f32(const py::array& image, const py::array& matrices, std::int64_t out_h,
                     std::int64_t out_w, bool inverse, Border border, float fill, py::array out) {
    const auto src = image_view<const float>(image, "src");
    std::int64_t n;
    const double* m = matrices_in(matrices, n);
    float* o = contiguous_out<float>(
        out, "out",
        image.ndim() == 3 ? std::initializer_list<std::int64_t>{n, out_h, out_w, src.channels}
                          : std::initializer_list<std::int64_t>{n, out_h, out_w});
    py::gil_scoped_release nogil;
    facecore::cpu::warp_affine_f32(src, m, n, inverse, out_h, out_w, border, fill, o);
}

// ---------------------------------------------------------------------------------- windows
void extract_windows_nchw_f32(const py::array& image, std::int64_t window_h, std::int64_t window_w,
                              std::int64_t stride_y, std::int64_t stride_x, std::int64_t first,
                              std::int64_t count, const py::array& mean, const py::array& std,
                              bool swap_rb, py::array out) {
    const auto src = image_view<const std::uint8_t>(image, "image");
    const auto g =
        facecore::make_grid(src.height, src.width, window_h, window_w, stride_y, stride_x);
    facecore::bind::check_window_range(g, first, count);
    const float* mu = per_channel(mean, "mean", src.channels);
    const float* sd = per_channel(std, "std", src.channels);
    float* o = contiguous_out<float>(out, "out", {count, src.channels, window_h, window_w});
    py::gil_scoped_release nogil;
    facecore::cpu::extract_windows_nchw_f32(src, g, first, count, mu, sd, swap_rb, o);
}

void accumulate_windows_f32(const py::array& scores, std::int64_t image_h, std::int64_t image_w,
                            std::int64_t window_h, std::int64_t window_w, std::int64_t stride_y,
                            std::int64_t stride_x, Reduce reduce, float fill, py::array out) {
    const auto g = facecore::make_grid(image_h, image_w, window_h, window_w, stride_y, stride_x);
    const float* s = contiguous_in<float>(scores, "scores", 2);
    facecore::bind::check_scores_shape(g, scores.shape(0), scores.shape(1), shape_of(scores));
    float* o = contiguous_out<float>(out, "out", {image_h, image_w});
    py::gil_scoped_release nogil;
    facecore::cpu::accumulate_windows_f32(s, g, static_cast<int>(reduce), fill, o);
}

// ----------------------------------------------------------------------------------- refine
void refine_map_f32(const py::array& p, float power, const py::array& kernel, int iterations,
                    py::array out) {
    const float* in = contiguous_in<float>(p, "p", 2);
    const float* k = contiguous_in<float>(kernel, "kernel", 2);
    const std::int64_t H = p.shape(0), W = p.shape(1);
    float* o = contiguous_out<float>(out, "out", {H, W});
    const std::int64_t kh = kernel.shape(0), kw = kernel.shape(1);
    py::gil_scoped_release nogil;
    facecore::cpu::refine_map_f32(in, H, W, power, k, kh, kw, iterations, o);
}

// ----------------------------------------------------------------------------------- guided
void guided_upsample_f32(const py::array& guide, const py::array& alpha, int radius, float eps,
                         py::array out) {
    const auto g = image_view<const std::uint8_t>(guide, "guide");
    const float* a = contiguous_in<float>(alpha, "alpha", 2);
    float* o = contiguous_out<float>(out, "out", {g.height, g.width});
    const std::int64_t h = alpha.shape(0), w = alpha.shape(1);
    py::gil_scoped_release nogil;
    facecore::cpu::guided_upsample_f32(g, a, h, w, radius, eps, o);
}

// ------------------------------------------------------------------------------------ blend
ImageView<const float> alpha_view(const py::array& alpha) {
    if (alpha.ndim() != 2) throw py::value_error("alpha: expected (H, W); got " + shape_of(alpha));
    return image_view<const float>(alpha, "alpha");
}

void blend_u8(const py::array& base, const py::array& effect, const py::array& alpha,
              py::array out) {
    const auto b = image_view<const std::uint8_t>(base, "base");
    const auto e = image_view<const std::uint8_t>(effect, "effect");
    const auto a = alpha_view(alpha);
    const auto o = image_view<std::uint8_t>(out, "out", true);
    py::gil_scoped_release nogil;
    facecore::cpu::blend_u8(b, e, a, o);
}

void recolor_u8(const py::array& image, const py::array& alpha, ColourSpace space,
                const py::array& target_bgr, float strength, py::array out,
                const py::object& source) {
    const auto im = image_view<const std::uint8_t>(image, "image");
    const auto a = alpha_view(alpha);
    const float* t = per_channel(target_bgr, "color", 3);
    const auto o = image_view<std::uint8_t>(out, "out", true);
    py::array src_arr;
    const float* src = facecore::bind::source_in(source, src_arr);
    py::gil_scoped_release nogil;
    facecore::cpu::recolor_u8(im, a, space, t, strength, o, src);
}

py::tuple lab_stats_u8(const py::array& image, const py::array& alpha, std::int64_t step) {
    const auto im = image_view<const std::uint8_t>(image, "image");
    const auto a = alpha_view(alpha);
    if (step < 1) throw py::value_error("step: must be >= 1");
    facecore::LabStats st{};
    {
        py::gil_scoped_release nogil;
        st = facecore::cpu::lab_stats_u8(im, a, step);
    }
    return py::make_tuple(st.weight, st.mean, st.std);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "facecore's C++ kernels. Use facecore.kernels: it validates and documents them.";
    m.attr("__version__") = FACECORE_VERSION;
    m.def("num_threads", &facecore::num_threads);
    m.def("set_num_threads", &facecore::set_num_threads, py::arg("n"));
    m.def("pool_threads", &facecore::pool_threads);
    m.attr("MAX_THREADS") = facecore::kMaxThreads;

    // The enumerations the kernels take; facecore._cuda re-exports these same types.
    py::enum_<Border>(m, "Border", "Samples outside the image: fill value or nearest edge.")
        .value("constant", Border::Constant)
        .value("replicate", Border::Replicate);
    py::enum_<Reduce>(m, "Reduce", "How accumulate_windows turns window scores into pixels.")
        .value("mean", Reduce::Mean)
        .value("centre", Reduce::Centre);
    py::enum_<ColourSpace>(m, "ColourSpace", "recolor's mode.")
        .value("lab", ColourSpace::Lab)
        .value("hsv", ColourSpace::Hsv)
        .value("transfer", ColourSpace::Transfer)
        .value("natural", ColourSpace::Natural);

    m.def("warp_affine_u8", &warp_affine_u8, py::arg("image"), py::arg("matrices"),
          py::arg("out_h"), py::arg("out_w"), py::arg("inverse"), py::arg("border"),
          py::arg("fill"), py::arg("out"));
    m.def("warp_affine_to_nchw_f32", &warp_affine_to_nchw_f32, py::arg("image"),
          py::arg("matrices"), py::arg("out_h"), py::arg("out_w"), py::arg("inverse"),
          py::arg("border"), py::arg("fill"), py::arg("mean"), py::arg("std"), py::arg("swap_rb"),
          py::arg("out"));
    m.def("warp_affine_f32", &warp_affine_f32, py::arg("src"), py::arg("matrices"),
          py::arg("out_h"), py::arg("out_w"), py::arg("inverse"), py::arg("border"),
          py::arg("fill"), py::arg("out"));

    m.def("extract_windows_nchw_f32", &extract_windows_nchw_f32, py::arg("image"),
          py::arg("window_h"), py::arg("window_w"), py::arg("stride_y"), py::arg("stride_x"),
          py::arg("first"), py::arg("count"), py::arg("mean"), py::arg("std"), py::arg("swap_rb"),
          py::arg("out"));
    m.def("accumulate_windows_f32", &accumulate_windows_f32, py::arg("scores"), py::arg("image_h"),
          py::arg("image_w"), py::arg("window_h"), py::arg("window_w"), py::arg("stride_y"),
          py::arg("stride_x"), py::arg("reduce"), py::arg("fill"), py::arg("out"));

    m.def("refine_map_f32", &refine_map_f32, py::arg("p"), py::arg("power"), py::arg("kernel"),
          py::arg("iterations"), py::arg("out"));

    m.def("guided_upsample_f32", &guided_upsample_f32, py::arg("guide"), py::arg("alpha"),
          py::arg("radius"), py::arg("eps"), py::arg("out"));

    m.def("blend_u8", &blend_u8, py::arg("base"), py::arg("effect"), py::arg("alpha"),
          py::arg("out"));
    m.def("recolor_u8", &recolor_u8, py::arg("image"), py::arg("alpha"), py::arg("space"),
          py::arg("color"), py::arg("strength"), py::arg("out"), py::arg("source") = py::none());
    m.def("lab_stats_u8", &lab_stats_u8, py::arg("image"), py::arg("alpha"), py::arg("step"));
}
