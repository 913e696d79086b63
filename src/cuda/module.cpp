// The one pybind11 file of facecore._cuda. It must import on a machine with nvcc's runtime but
// no GPU (CI): nothing here touches a device at import time, and device_count() answers 0 when
// the driver or the device is missing instead of raising.
//
// GPU arrays arrive as objects exposing __cuda_array_interface__ (CuPy, PyTorch, Numba,
// facecore's DeviceArray) or as that dict itself; they are parsed and checked here, with the
// GIL held, exactly as src/cpp/module.cpp checks NumPy arrays (dtype, ndim, shape, strides,
// writability), plus: device memory, one device for all arrays. Then the GIL is released,
// the arrays' device made current, the caller's stream made to wait for the producers'
// streams (the interface's "stream" entry, v3), and the kernel queued. Nothing synchronises
// except the explicit copy-to-host helpers. Small parameters (matrices, fill, mean, std,
// kernel, colour) are NumPy arrays on the host. Bad arguments raise TypeError / ValueError
// naming the argument; CUDA failures raise RuntimeError with the CUDA error text.
#include <cuda_runtime.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bind_checks.hpp"
#include "common.hpp"
#include "cuda_check.hpp"
#include "device_buffer.hpp"
#include "kernels.hpp"

namespace py = pybind11;
using facecore::Border;
using facecore::ColourSpace;
using facecore::ImageView;
using facecore::Reduce;
using facecore::bind::fill_in;
using facecore::bind::matrices_in;
using facecore::bind::per_channel;
using facecore::bind::shape_of;
using facecore::cuda::DeviceBuffer;
using facecore::cuda::DeviceGuard;

namespace {

// ------------------------------------------------------------------------- device queries
int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no driver / no device" error
        return 0;
    }
    return n;
}

py::dict device_properties(int device) {
    if (device < 0 || device >= device_count())
        throw py::value_error("device: no CUDA device " + std::to_string(device));
    cudaDeviceProp p{};
    FACECORE_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
    py::dict d;
    d["name"] = std::string(p.name);
    d["major"] = p.major;
    d["minor"] = p.minor;
    d["total_memory"] = static_cast<unsigned long long>(p.totalGlobalMem);
    d["multiprocessors"] = p.multiProcessorCount;
    return d;
}

cudaStream_t as_stream(std::uintptr_t s) {
    // 0 is the default stream; 1 and 2 are cudaStreamLegacy and cudaStreamPerThread, the
    // values __cuda_array_interface__ uses for them: the same handles, so a cast suffices.
    return reinterpret_cast<cudaStream_t>(s);
}

// The device holding `ptr`; ValueError naming the argument when it is not device memory.
int pointer_device(std::uintptr_t ptr, const std::string& name) {
    cudaPointerAttributes attr{};
    const cudaError_t err = cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(ptr));
    if (err != cudaSuccess) {
        cudaGetLastError();
        throw py::value_error(name + ": not a CUDA device pointer (" + cudaGetErrorString(err) +
                              ")");
    }
    if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
        throw py::value_error(name +
                              ": is host memory, not device memory (pass a NumPy array, "
                              "or device='cuda' to copy it)");
    return attr.device;
}

// ------------------------------------------------------------- __cuda_array_interface__
struct CudaArray {
    std::string name;
    std::uintptr_t ptr = 0;
    bool readonly = false;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;  // bytes; filled in for C-contiguous when absent
    char kind = '?';                    // 'u' or 'f' (others are refused)
    std::int64_t itemsize = 0;
    bool has_stream = false;
    std::uintptr_t stream = 0;

    std::int64_t ndim() const { return static_cast<std::int64_t>(shape.size()); }
    std::int64_t size() const {
        std::int64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
    std::string shape_str() const { return facecore::bind::shape_str(shape); }
    std::string dtype_str() const {
        return (kind == 'u'   ? "uint"
                : kind == 'f' ? "float"
                : kind == 'i' ? "int"
                              : "?") +
               std::to_string(8 * itemsize);
    }
};

CudaArray cuda_array(const py::handle& obj, const char* name) {
    py::object iface;
    if (py::isinstance<py::dict>(obj)) {
        iface = py::reinterpret_borrow<py::object>(obj);
    } else if (py::hasattr(obj, "__cuda_array_interface__")) {
        iface = obj.attr("__cuda_array_interface__");
    } else {
        throw py::type_error(
            std::string(name) +
            ": expected a CUDA array (an object with __cuda_array_interface__); got " +
            std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    }
    if (!py::isinstance<py::dict>(iface))
        throw py::type_error(std::string(name) + ": __cuda_array_interface__ is not a dict");
    const py::dict d = iface.cast<py::dict>();
    CudaArray a;
    a.name = name;
    try {
        const py::tuple data = d["data"].cast<py::tuple>();
        a.ptr = data[0].cast<std::uintptr_t>();
        a.readonly = data[1].cast<bool>();
        for (auto v : d["shape"].cast<py::tuple>()) a.shape.push_back(v.cast<std::int64_t>());
        const std::string typestr = d["typestr"].cast<std::string>();
        if (typestr.size() < 3 || (typestr[0] != '<' && typestr[0] != '|' && typestr[0] != '='))
            throw py::type_error(std::string(name) + ": unsupported typestr '" + typestr + "'");
        a.kind = typestr[1];
        a.itemsize = std::stoll(typestr.substr(2));
        if (d.contains("strides") && !d["strides"].is_none())
            for (auto v : d["strides"].cast<py::tuple>())
                a.strides.push_back(v.cast<std::int64_t>());
        if (d.contains("mask") && !d["mask"].is_none())
            throw py::value_error(std::string(name) + ": masked CUDA arrays are not supported");
        if (d.contains("stream") && !d["stream"].is_none()) {
            a.has_stream = true;
            a.stream = d["stream"].cast<std::uintptr_t>();
        }
    } catch (const py::cast_error&) {
        throw py::type_error(std::string(name) + ": malformed __cuda_array_interface__");
    } catch (const py::error_already_set&) {
        throw py::type_error(std::string(name) + ": malformed __cuda_array_interface__");
    } catch (const std::invalid_argument&) {
        throw py::type_error(std::string(name) + ": malformed typestr in __cuda_array_interface__");
    }
    for (auto s : a.shape)
        if (s < 0) throw py::value_error(std::string(name) + ": negative dimension");
    if (a.strides.empty()) {
        a.strides.resize(a.shape.size());
        std::int64_t s = a.itemsize;
        for (std::int64_t i = a.ndim() - 1; i >= 0; --i) {
            a.strides[static_cast<std::size_t>(i)] = s;
            s *= a.shape[static_cast<std::size_t>(i)];
        }
    } else if (a.strides.size() != a.shape.size()) {
        throw py::value_error(std::string(name) + ": strides and shape disagree");
    }
    return a;
}

template <typename T>
void require_dtype(const CudaArray& a) {
    const char kind = std::is_floating_point<T>::value ? 'f' : 'u';
    if (a.kind != kind || a.itemsize != static_cast<std::int64_t>(sizeof(T)))
        throw py::type_error(a.name + ": expected " +
                             (kind == 'f' ? std::string("float32") : std::string("uint8")) +
                             " array; got " + a.dtype_str());
}

facecore::bind::Layout layout_of(const CudaArray& a) {
    return facecore::bind::Layout{a.name, reinterpret_cast<void*>(a.ptr), a.readonly, a.shape,
                                  a.strides};
}

// (H, W) or (H, W, C) with contiguous pixels; rows may be strided (as src/cpp/module.cpp).
template <typename T>
ImageView<T> image_view(const CudaArray& a, bool writable = false) {
    require_dtype<typename std::remove_const<T>::type>(a);
    return facecore::bind::image_layout<T>(layout_of(a), writable);
}

template <typename T>
T* contiguous_out(const CudaArray& a, std::initializer_list<std::int64_t> shape) {
    require_dtype<T>(a);
    return facecore::bind::out_layout<T>(layout_of(a), shape);
}

template <typename T>
const T* contiguous_in(const CudaArray& a, std::int64_t ndim) {
    require_dtype<T>(a);
    return facecore::bind::in_layout<T>(layout_of(a), ndim);
}

// ------------------------------------------------------------------------- launch context
// Collects the arrays of one call: all on one device (checked with the GIL held), then,
// without the GIL, makes that device current and orders the caller's stream after every
// producer stream the arrays name.
class Launch {
  public:
    explicit Launch(std::uintptr_t stream) : stream_(as_stream(stream)) {}

    void add(const CudaArray& a) {
        if (a.size() == 0) return;  // no pointer to check (and nothing will be read or written)
        const int d = pointer_device(a.ptr, a.name);
        if (device_ < 0) {
            device_ = d;
            first_ = a.name;
        } else if (d != device_) {
            throw py::value_error(a.name + ": on CUDA device " + std::to_string(d) + ", but " +
                                  first_ + " is on device " + std::to_string(device_));
        }
        if (a.has_stream && as_stream(a.stream) != stream_)
            producers_.push_back(as_stream(a.stream));
    }

    cudaStream_t stream() const { return stream_; }

    // Call without the GIL; keep the returned guard alive while queueing the work.
    std::unique_ptr<DeviceGuard> begin() const {
        auto guard = std::make_unique<DeviceGuard>(device_ < 0 ? 0 : device_);
        for (cudaStream_t producer : producers_) {
            cudaEvent_t ev;
            FACECORE_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
            const cudaError_t rec = cudaEventRecord(ev, producer);
            const cudaError_t wait = rec == cudaSuccess ? cudaStreamWaitEvent(stream_, ev, 0) : rec;
            cudaEventDestroy(ev);  // released once the recorded work completes
            FACECORE_CUDA_CHECK(wait);
        }
        return guard;
    }

  private:
    cudaStream_t stream_;
    int device_ = -1;
    std::string first_;
    std::vector<cudaStream_t> producers_;
};

// ------------------------------------------------------------------------------------- warp
void warp_affine_u8(const py::object& image, const py::array& matrices, std::int64_t out_h,
                    std::int64_t out_w, bool inverse, Border border, const py::array& fill,
                    const py::object& out, std::uintptr_t stream) {
    const CudaArray ia = cuda_array(image, "image");
    const CudaArray oa = cuda_array(out, "out");
    const auto src = image_view<const std::uint8_t>(ia);
    std::int64_t n;
    const double* m = matrices_in(matrices, n);
    const int* f = fill_in(fill, src.channels);
    std::uint8_t* o = contiguous_out<std::uint8_t>(
        oa, ia.ndim() == 3 ? std::initializer_list<std::int64_t>{n, out_h, out_w, src.channels}
                           : std::initializer_list<std::int64_t>{n, out_h, out_w});
    Launch launch(stream);
    launch.add(ia);
    launch.add(oa);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::warp_affine_u8(src, m, n, inverse, out_h, out_w, border, f, o, launch.stream());
}

void warp_affine_to_nchw_f32(const py::object& image, const py::array& matrices, std::int64_t out_h,
                             std::int64_t out_w, bool inverse, Border border, const py::array& fill,
                             const py::array& mean, const py::array& std, bool swap_rb,
                             const py::object& out, std::uintptr_t stream) {
    const CudaArray ia = cuda_array(image, "image");
    const CudaArray oa = cuda_array(out, "out");
    const auto src = image_view<const std::uint8_t>(ia);
    std::int64_t n;
    const double* m = matrices_in(matrices, n);
    const int* f = fill_in(fill, src.channels);
    const float* mu = per_channel(mean, "mean", src.channels);
    const float* sd = per_channel(std, "std", src.channels);
    float* o = contiguous_out<float>(oa, {n, src.channels, out_h, out_w});
    Launch launch(stream);
    launch.add(ia);
    launch.add(oa);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::warp_affine_to_nchw_f32(src, m, n, inverse, out_h, out_w, border, f, mu, sd,
                                            swap_rb, o, launch.stream());
}

void warp_affine_f32(const py::object& image, const py::array& matrices, std::int64_t out_h,
                     std::int64_t out_w, bool inverse, Border border, float fill,
                     const py::object& out, std::uintptr_t stream) {
    const CudaArray ia = cuda_array(image, "src");
    const CudaArray oa = cuda_array(out, "out");
    const auto src = image_view<const float>(ia);
    std::int64_t n;
    const double* m = matrices_in(matrices, n);
    float* o = contiguous_out<float>(
        oa, ia.ndim() == 3 ? std::initializer_list<std::int64_t>{n, out_h, out_w, src.channels}
                           : std::initializer_list<std::int64_t>{n, out_h, out_w});
    Launch launch(stream);
    launch.add(ia);
    launch.add(oa);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::warp_affine_f32(src, m, n, inverse, out_h, out_w, border, fill, o,
                                    launch.stream());
}

void register_warp(py::module_& m) {
    m.def("warp_affine_u8", &warp_affine_u8, py::arg("image"), py::arg("matrices"),
          py::arg("out_h"), py::arg("out_w"), py::arg("inverse"), py::arg("border"),
          py::arg("fill"), py::arg("out"), py::arg("stream") = 0);
    m.def("warp_affine_to_nchw_f32", &warp_affine_to_nchw_f32, py::arg("image"),
          py::arg("matrices"), py::arg("out_h"), py::arg("out_w"), py::arg("inverse"),
          py::arg("border"), py::arg("fill"), py::arg("mean"), py::arg("std"), py::arg("swap_rb"),
          py::arg("out"), py::arg("stream") = 0);
    m.def("warp_affine_f32", &warp_affine_f32, py::arg("src"), py::arg("matrices"),
          py::arg("out_h"), py::arg("out_w"), py::arg("inverse"), py::arg("border"),
          py::arg("fill"), py::arg("out"), py::arg("stream") = 0);
}

// ---------------------------------------------------------------------------------- windows
void extract_windows_nchw_f32(const py::object& image, std::int64_t window_h, std::int64_t window_w,
                              std::int64_t stride_y, std::int64_t stride_x, std::int64_t first,
                              std::int64_t count, const py::array& mean, const py::array& std,
                              bool swap_rb, const py::object& out, std::uintptr_t stream) {
    const CudaArray ia = cuda_array(image, "image");
    const CudaArray oa = cuda_array(out, "out");
    const auto src = image_view<const std::uint8_t>(ia);
    const auto g =
        facecore::make_grid(src.height, src.width, window_h, window_w, stride_y, stride_x);
    facecore::bind::check_window_range(g, first, count);
    const float* mu = per_channel(mean, "mean", src.channels);
    const float* sd = per_channel(std, "std", src.channels);
    float* o = contiguous_out<float>(oa, {count, src.channels, window_h, window_w});
    Launch launch(stream);
    launch.add(ia);
    launch.add(oa);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::extract_windows_nchw_f32(src, g, first, count, mu, sd, swap_rb, o,
                                             launch.stream());
}

void accumulate_windows_f32(const py::object& scores, std::int64_t image_h, std::int64_t image_w,
                            std::int64_t window_h, std::int64_t window_w, std::int64_t stride_y,
                            std::int64_t stride_x, Reduce reduce, float fill, const py::object& out,
                            std::uintptr_t stream) {
    const CudaArray sa = cuda_array(scores, "scores");
    const CudaArray oa = cuda_array(out, "out");
    const auto g = facecore::make_grid(image_h, image_w, window_h, window_w, stride_y, stride_x);
    const float* s = contiguous_in<float>(sa, 2);
    facecore::bind::check_scores_shape(g, sa.shape[0], sa.shape[1], sa.shape_str());
    float* o = contiguous_out<float>(oa, {image_h, image_w});
    Launch launch(stream);
    launch.add(sa);
    launch.add(oa);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::accumulate_windows_f32(s, g, static_cast<int>(reduce), fill, o,
                                           launch.stream());
}

void register_windows(py::module_& m) {
    m.def("extract_windows_nchw_f32", &extract_windows_nchw_f32, py::arg("image"),
          py::arg("window_h"), py::arg("window_w"), py::arg("stride_y"), py::arg("stride_x"),
          py::arg("first"), py::arg("count"), py::arg("mean"), py::arg("std"), py::arg("swap_rb"),
          py::arg("out"), py::arg("stream") = 0);
    m.def("accumulate_windows_f32", &accumulate_windows_f32, py::arg("scores"), py::arg("image_h"),
          py::arg("image_w"), py::arg("window_h"), py::arg("window_w"), py::arg("stride_y"),
          py::arg("stride_x"), py::arg("reduce"), py::arg("fill"), py::arg("out"),
          py::arg("stream") = 0);
}

// ----------------------------------------------------------------------------------- refine
void refine_map_f32(const py::object& p, float power, const py::array& kernel, int iterations,
                    const py::object& out, std::uintptr_t stream) {
    const CudaArray pa = cuda_array(p, "p");
    const CudaArray oa = cuda_array(out, "out");
    const float* in = contiguous_in<float>(pa, 2);
    const float* k = facecore::bind::contiguous_in<float>(kernel, "kernel", 2);
    const std::int64_t H = pa.shape[0], W = pa.shape[1];
    float* o = contiguous_out<float>(oa, {H, W});
    // The kernel reads neighbours: an output that overlaps the input without being it would
    // be overwritten while read (the same buffer is handled with a copy).
    const std::uintptr_t bytes = static_cast<std::uintptr_t>(H * W) * sizeof(float);
    if (oa.ptr != pa.ptr && oa.ptr < pa.ptr + bytes && pa.ptr < oa.ptr + bytes)
        throw py::value_error("out: overlaps p without being p");
    const std::int64_t kh = kernel.shape(0), kw = kernel.shape(1);
    Launch launch(stream);
    launch.add(pa);
    launch.add(oa);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::refine_map_f32(in, H, W, power, k, kh, kw, iterations, o, launch.stream());
}

void register_refine(py::module_& m) {
    m.def("refine_map_f32", &refine_map_f32, py::arg("p"), py::arg("power"), py::arg("kernel"),
          py::arg("iterations"), py::arg("out"), py::arg("stream") = 0);
}

// ----------------------------------------------------------------------------------- guided
void guided_upsample_f32(const py::object& guide, const py::object& alpha, int radius, float eps,
                         const py::object& out, std::uintptr_t stream) {
    const CudaArray ga = cuda_array(guide, "guide");
    const CudaArray aa = cuda_array(alpha, "alpha");
    const CudaArray oa = cuda_array(out, "out");
    const auto g = image_view<const std::uint8_t>(ga);
    const float* a = contiguous_in<float>(aa, 2);
    float* o = contiguous_out<float>(oa, {g.height, g.width});
    const std::int64_t h = aa.shape[0], w = aa.shape[1];
    Launch launch(stream);
    for (const CudaArray* x : {&ga, &aa, &oa}) launch.add(*x);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::guided_upsample_f32(g, a, h, w, radius, eps, o, launch.stream());
}

void register_guided(py::module_& m) {
    m.def("guided_upsample_f32", &guided_upsample_f32, py::arg("guide"), py::arg("alpha"),
          py::arg("radius"), py::arg("eps"), py::arg("out"), py::arg("stream") = 0);
}

// ------------------------------------------------------------------------------------ blend
ImageView<const float> alpha_view(const CudaArray& alpha) {
    if (alpha.ndim() != 2)
        throw py::value_error("alpha: expected (H, W); got " + alpha.shape_str());
    return image_view<const float>(alpha);
}

void blend_u8(const py::object& base, const py::object& effect, const py::object& alpha,
              const py::object& out, std::uintptr_t stream) {
    const CudaArray ba = cuda_array(base, "base"), ea = cuda_array(effect, "effect");
    const CudaArray aa = cuda_array(alpha, "alpha"), oa = cuda_array(out, "out");
    const auto b = image_view<const std::uint8_t>(ba);
    const auto e = image_view<const std::uint8_t>(ea);
    const auto a = alpha_view(aa);
    const auto o = image_view<std::uint8_t>(oa, true);
    Launch launch(stream);
    for (const CudaArray* x : {&ba, &ea, &aa, &oa}) launch.add(*x);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::blend_u8(b, e, a, o, launch.stream());
}

void recolor_u8(const py::object& image, const py::object& alpha, ColourSpace space,
                const py::array& target_bgr, float strength, const py::object& out,
                std::uintptr_t stream, const py::object& source) {
    const CudaArray ia = cuda_array(image, "image"), aa = cuda_array(alpha, "alpha");
    const CudaArray oa = cuda_array(out, "out");
    const auto im = image_view<const std::uint8_t>(ia);
    const auto a = alpha_view(aa);
    const float* t = per_channel(target_bgr, "color", 3);
    const auto o = image_view<std::uint8_t>(oa, true);
    py::array src_arr;
    const float* src = facecore::bind::source_in(source, src_arr);
    Launch launch(stream);
    for (const CudaArray* x : {&ia, &aa, &oa}) launch.add(*x);
    py::gil_scoped_release nogil;
    const auto guard = launch.begin();
    facecore::cuda::recolor_u8(im, a, space, t, strength, o, launch.stream(), src);
}

void register_blend(py::module_& m) {
    m.def("blend_u8", &blend_u8, py::arg("base"), py::arg("effect"), py::arg("alpha"),
          py::arg("out"), py::arg("stream") = 0);
    m.def("recolor_u8", &recolor_u8, py::arg("image"), py::arg("alpha"), py::arg("space"),
          py::arg("color"), py::arg("strength"), py::arg("out"), py::arg("stream") = 0,
          py::arg("source") = py::none());
}

// ------------------------------------------------------------------ memory and streams
// Device memory owned by Python (facecore.DeviceArray's storage): allocated and freed in
// the stream given at creation (stream-ordered: no device-wide synchronisation).
class DeviceMemory {
  public:
    DeviceMemory(std::size_t nbytes, int device, std::uintptr_t stream) : device_(device) {
        if (device < 0 || device >= device_count())
            throw py::value_error("device: no CUDA device " + std::to_string(device));
        py::gil_scoped_release nogil;
        DeviceGuard guard(device);
        buffer_ = DeviceBuffer<unsigned char>(nbytes, as_stream(stream));
    }
    DeviceMemory(const DeviceMemory&) = delete;
    DeviceMemory& operator=(const DeviceMemory&) = delete;
    ~DeviceMemory() {
        int previous = -1;
        if (cudaGetDevice(&previous) == cudaSuccess && previous != device_) cudaSetDevice(device_);
        buffer_.reset();
        if (previous >= 0 && previous != device_) cudaSetDevice(previous);
    }
    std::uintptr_t ptr() const { return reinterpret_cast<std::uintptr_t>(buffer_.data()); }
    std::size_t nbytes() const { return buffer_.bytes(); }
    int device() const { return device_; }
    std::uintptr_t stream() const { return reinterpret_cast<std::uintptr_t>(buffer_.stream()); }

  private:
    int device_;
    DeviceBuffer<unsigned char> buffer_;
};

py::buffer_info contiguous_host(const py::buffer& b, bool writable, const char* name) {
    py::buffer_info info = b.request(writable);
    std::int64_t expect = info.itemsize;
    for (py::ssize_t d = info.ndim - 1; d >= 0; --d) {
        const auto i = static_cast<std::size_t>(d);
        if (info.shape[i] != 1 && info.strides[i] != expect)
            throw py::value_error(std::string(name) + ": must be C-contiguous");
        expect *= info.shape[i];
    }
    return info;
}

// Host -> device, queued on `stream`. From pageable memory CUDA stages the source before
// returning, so the host array may change afterwards.
void copy_htod(std::uintptr_t dst, const py::buffer& src, std::uintptr_t stream) {
    const py::buffer_info info = contiguous_host(src, false, "src");
    const std::size_t n = static_cast<std::size_t>(info.size * info.itemsize);
    if (n == 0) return;
    const int device = pointer_device(dst, "dst");
    py::gil_scoped_release nogil;
    DeviceGuard guard(device);
    FACECORE_CUDA_CHECK(cudaMemcpyAsync(reinterpret_cast<void*>(dst), info.ptr, n,
                                        cudaMemcpyHostToDevice, as_stream(stream)));
}

// Device -> host after the work queued on `stream`; returns when the data is there (the one
// synchronisation of the NumPy path).
void copy_dtoh(const py::buffer& dst, std::uintptr_t src, std::uintptr_t stream) {
    const py::buffer_info info = contiguous_host(dst, true, "dst");
    const std::size_t n = static_cast<std::size_t>(info.size * info.itemsize);
    if (n == 0) return;
    const int device = pointer_device(src, "src");
    py::gil_scoped_release nogil;
    DeviceGuard guard(device);
    FACECORE_CUDA_CHECK(cudaMemcpyAsync(info.ptr, reinterpret_cast<const void*>(src), n,
                                        cudaMemcpyDeviceToHost, as_stream(stream)));
    FACECORE_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)));
}

void copy_dtod(std::uintptr_t dst, std::uintptr_t src, std::size_t nbytes, std::uintptr_t stream) {
    if (nbytes == 0) return;
    const int device = pointer_device(dst, "dst");
    pointer_device(src, "src");
    py::gil_scoped_release nogil;
    DeviceGuard guard(device);
    FACECORE_CUDA_CHECK(cudaMemcpyAsync(reinterpret_cast<void*>(dst),
                                        reinterpret_cast<const void*>(src), nbytes,
                                        cudaMemcpyDeviceToDevice, as_stream(stream)));
}

void stream_synchronize(std::uintptr_t stream) {
    py::gil_scoped_release nogil;
    FACECORE_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)));
}

// A timing event (for the benchmarks when neither CuPy nor PyTorch is installed).
class Event {
  public:
    Event() { FACECORE_CUDA_CHECK(cudaEventCreate(&event_)); }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    ~Event() { cudaEventDestroy(event_); }
    void record(std::uintptr_t stream) {
        FACECORE_CUDA_CHECK(cudaEventRecord(event_, as_stream(stream)));
    }
    void synchronize() {
        py::gil_scoped_release nogil;
        FACECORE_CUDA_CHECK(cudaEventSynchronize(event_));
    }
    float elapsed_ms(const Event& end) const {
        float ms = 0.0f;
        FACECORE_CUDA_CHECK(cudaEventElapsedTime(&ms, event_, end.event_));
        return ms;
    }

  private:
    cudaEvent_t event_{};
};

void register_memory(py::module_& m) {
    py::class_<DeviceMemory>(m, "DeviceMemory",
                             "Device memory owned by Python, freed in its stream when dropped.")
        .def(py::init<std::size_t, int, std::uintptr_t>(), py::arg("nbytes"), py::arg("device") = 0,
             py::arg("stream") = 0)
        .def_property_readonly("ptr", &DeviceMemory::ptr)
        .def_property_readonly("nbytes", &DeviceMemory::nbytes)
        .def_property_readonly("device", &DeviceMemory::device)
        .def_property_readonly("stream", &DeviceMemory::stream);
    m.def(
        "pointer_device", [](std::uintptr_t ptr) { return pointer_device(ptr, "ptr"); },
        py::arg("ptr"), "The CUDA device holding `ptr` (ValueError if it is not device memory).");
    m.def("copy_htod", &copy_htod, py::arg("dst"), py::arg("src"), py::arg("stream") = 0);
    m.def("copy_dtoh", &copy_dtoh, py::arg("dst"), py::arg("src"), py::arg("stream") = 0);
    m.def("copy_dtod", &copy_dtod, py::arg("dst"), py::arg("src"), py::arg("nbytes"),
          py::arg("stream") = 0);
    m.def("stream_synchronize", &stream_synchronize, py::arg("stream") = 0);
    py::class_<Event>(m, "Event", "A CUDA timing event.")
        .def(py::init<>())
        .def("record", &Event::record, py::arg("stream") = 0)
        .def("synchronize", &Event::synchronize)
        .def("elapsed_ms", &Event::elapsed_ms, py::arg("end"));
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
    m.doc() = "facecore's CUDA kernels (see facecore.kernels, which validates and dispatches).";
    // The enumerations are facecore._core's (one type each, accepted by both extensions).
    const py::module_ core = py::module_::import("facecore._core");
    for (const char* name : {"Border", "Reduce", "ColourSpace"}) m.attr(name) = core.attr(name);
    m.def("device_count", &device_count, "Number of usable CUDA devices (0 without a driver).");
    m.def("device_properties", &device_properties, py::arg("device") = 0);
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    m.attr("runtime_version") = runtime;
    register_warp(m);
    register_windows(m);
    register_refine(m);
    register_guided(m);
    register_blend(m);
    register_memory(m);
}
