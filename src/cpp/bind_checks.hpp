// Argument checks shared by the two binding modules, facecore._core (src/cpp/module.cpp) and
// facecore._cuda (src/cuda/module.cpp): one definition, so both refuse the same arguments with
// the same messages, each naming the argument. Array layouts (images, outputs, parameter
// arrays) are checked on a Layout, which either module builds from its own kind of array
// (a NumPy array; a __cuda_array_interface__); dtypes are checked by each module.
#pragma once

#include <pybind11/numpy.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "windows.hpp"

namespace facecore::bind {

namespace py = pybind11;

inline std::string shape_str(const std::vector<std::int64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

// An array argument's name, memory and layout (strides in bytes).
struct Layout {
    std::string name;
    void* data = nullptr;
    bool readonly = false;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;

    std::int64_t ndim() const { return static_cast<std::int64_t>(shape.size()); }
    bool c_contiguous(std::int64_t item) const {
        std::int64_t expect = item;
        for (std::size_t i = shape.size(); i-- > 0;) {
            if (shape[i] != 1 && strides[i] != expect) return false;
            expect *= shape[i];
        }
        return true;
    }
};

inline Layout host_layout(const py::array& a, const char* name) {
    Layout l;
    l.name = name;
    // Writability is checked before anything writes through `data` (out_layout, image_layout).
    l.data = const_cast<void*>(a.data());
    l.readonly = !a.writeable();
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        l.shape.push_back(a.shape(i));
        l.strides.push_back(a.strides(i));
    }
    return l;
}

inline std::string shape_of(const py::array& a) {
    return shape_str(host_layout(a, "").shape);
}

template <typename T>
void require_dtype(const py::array& a, const char* name) {
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + ": expected " +
                             std::string(py::str(py::dtype::of<T>())) + " array; got " +
                             std::string(py::str(a.dtype())));
}

// (H, W) or (H, W, C), non-empty, with contiguous pixels; rows may be strided (a crop of a
// frame) but not backwards. `writable`: an output.
template <typename T>
ImageView<T> image_layout(const Layout& a, bool writable) {
    if (a.ndim() != 2 && a.ndim() != 3)
        throw py::value_error(a.name + ": expected (H, W) or (H, W, C); got shape " +
                              shape_str(a.shape));
    if (writable && a.readonly) throw py::value_error(a.name + ": array is read-only");
    const std::int64_t item = static_cast<std::int64_t>(sizeof(T));
    const std::int64_t H = a.shape[0], W = a.shape[1], C = a.ndim() == 3 ? a.shape[2] : 1;
    if (H < 1 || W < 1) throw py::value_error(a.name + ": image is empty");
    const bool pixels_contiguous =
        (a.ndim() == 2 || C == 1 || a.strides[2] == item) && (W == 1 || a.strides[1] == C * item);
    // A single row's stride is never used (NumPy gives size-1 axes any stride, even negative).
    const bool rows_ok =
        H == 1 || (a.strides[0] > 0 && a.strides[0] % item == 0 && a.strides[0] >= W * C * item);
    if (!pixels_contiguous || !rows_ok)
        throw py::value_error(a.name +
                              ": pixels must be contiguous and rows positively strided "
                              "(pass a contiguous copy, e.g. np.ascontiguousarray(...))");
    ImageView<T> v;
    v.data = static_cast<T*>(a.data);
    v.height = H;
    v.width = W;
    v.channels = C;
    v.row_stride = (H == 1 ? W * C : a.strides[0] / item);
    return v;
}

// A writable C-contiguous output of exactly `shape`.
template <typename T>
T* out_layout(const Layout& a, std::initializer_list<std::int64_t> shape) {
    if (a.readonly) throw py::value_error(a.name + ": array is read-only");
    if (!a.c_contiguous(static_cast<std::int64_t>(sizeof(T))))
        throw py::value_error(a.name + ": must be C-contiguous");
    bool same = a.ndim() == static_cast<std::int64_t>(shape.size());
    std::size_t i = 0;
    for (std::int64_t d : shape) same = same && i < a.shape.size() && a.shape[i++] == d;
    if (!same) throw py::value_error(a.name + ": wrong shape " + shape_str(a.shape));
    return static_cast<T*>(a.data);
}

// A C-contiguous input with `ndim` dimensions.
template <typename T>
const T* in_layout(const Layout& a, std::int64_t ndim) {
    if (a.ndim() != ndim)
        throw py::value_error(a.name + ": expected " + std::to_string(ndim) +
                              " dimensions; got shape " + shape_str(a.shape));
    if (!a.c_contiguous(static_cast<std::int64_t>(sizeof(T))))
        throw py::value_error(a.name + ": must be C-contiguous");
    return static_cast<const T*>(a.data);
}

// A C-contiguous array of T with `ndim` dimensions (small parameter arrays: matrices, means).
template <typename T>
const T* contiguous_in(const py::array& a, const char* name, py::ssize_t ndim) {
    require_dtype<T>(a, name);
    return in_layout<T>(host_layout(a, name), ndim);
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
