// Argument checks on host (NumPy) arrays shared by the two binding modules, facecore._core
// (src/cpp/module.cpp) and facecore._cuda (src/cuda/module.cpp): one definition, so both
// refuse the same arguments with the same messages, each naming the argument.
#pragma once

#include <pybind11/numpy.h>

#include <cstdint>
#include <string>

#include "common.hpp"
#include "windows.hpp"

namespace facecore::bind {

namespace py = pybind11;

inline std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

template <typename T>
void require_dtype(const py::array& a, const char* name) {
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + ": expected " +
                             std::string(py::str(py::dtype::of<T>())) + " array; got " +
                             std::string(py::str(a.dtype())));
}

// A C-contiguous array of T with `ndim` dimensions (small parameter arrays: matrices, means).
template <typename T>
const T* contiguous_in(const py::array& a, const char* name, py::ssize_t ndim) {
    require_dtype<T>(a, name);
    if (a.ndim() != ndim)
        throw py::value_error(std::string(name) + ": expected " + std::to_string(ndim) +
                              " dimensions; got shape " + shape_of(a));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": must be C-contiguous");
    return static_cast<const T*>(a.data());
}

inline const double* matrices_in(const py::array& m, std::int64_t& n) {
    const double* p = contiguous_in<double>(m, "matrices", 3);
    if (m.shape(1) != 2 || m.shape(2) != 3)
        throw py::value_error("matrices: expected shape (N, 2, 3); got " + shape_of(m));
    n = m.shape(0);
    if (n < 1) throw py::value_error("matrices: need at least one matrix");
    return p;
}

inline const float* per_channel(const py::array& a, const char* name, std::int64_t channels) {
    const float* p = contiguous_in<float>(a, name, 1);
    if (a.shape(0) != channels)
        throw py::value_error(std::string(name) + ": need one value per channel (" +
                              std::to_string(channels) + "); got " + shape_of(a));
    return p;
}

// warp's fill: one int32 per image channel.
inline const int* fill_in(const py::array& fill, std::int64_t channels) {
    const int* f = contiguous_in<std::int32_t>(fill, "fill", 1);
    if (fill.shape(0) != channels) throw py::value_error("fill: need one value per channel");
    return f;
}

// extract_windows' batch [first, first + count) inside the grid.
inline void check_window_range(const WindowGrid& g, std::int64_t first, std::int64_t count) {
    if (first < 0 || count < 0 || first > g.count() || count > g.count() - first)
        throw py::value_error("first/count: outside the window grid of " +
                              std::to_string(g.count()) + " windows");
}

// accumulate_windows' scores: (grid_h, grid_w).
inline void check_scores_shape(const WindowGrid& g, std::int64_t rows, std::int64_t cols,
                               const std::string& shape) {
    if (rows != g.grid_h() || cols != g.grid_w())
        throw py::value_error("scores: expected the window grid's shape (" +
                              std::to_string(g.grid_h()) + ", " + std::to_string(g.grid_w()) +
                              "); got " + shape);
}

// recolor's source: None, or a float32 (2,) array (mean L, std L) kept alive in `holder`.
inline const float* source_in(const py::object& source, py::array& holder) {
    if (source.is_none()) return nullptr;
    if (!py::isinstance<py::array>(source))
        throw py::type_error("source: expected a float32 array (mean L, std L) or None");
    holder = py::reinterpret_borrow<py::array>(source);
    return per_channel(holder, "source", 2);
}

}  // namespace facecore::bind
