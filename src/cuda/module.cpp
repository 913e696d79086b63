// The one pybind11 file of facecore._cuda. It must import on a machine with nvcc's runtime but
// no GPU (CI): nothing here touches a device at import time, and device_count() answers 0 when
// the driver or the device is missing instead of raising.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <string>

#include "cuda_check.hpp"

namespace py = pybind11;

namespace {

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

}  // namespace

PYBIND11_MODULE(_cuda, m) {
    m.doc() = "facecore's CUDA kernels (see facecore.kernels).";
    m.def("device_count", &device_count, "Number of usable CUDA devices (0 without a driver).");
    m.def("device_properties", &device_properties, py::arg("device") = 0);
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    m.attr("runtime_version") = runtime;
}
