// Launch-bound microbenchmark: the cost of one tiny kernel launch through the CUDA runtime,
// which reaches the driver through cuGetProcAddress like every framework does.
#include <chrono>
#include <cstdio>
#include <cstdlib>

__global__ void tiny(float *x) {
    if (threadIdx.x == 0) x[0] += 1.0f;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    float *d = nullptr;
    if (cudaMalloc(&d, sizeof(float)) != cudaSuccess) return 2;
    for (int i = 0; i < 20000; i++) tiny<<<1, 32>>>(d);
    if (cudaDeviceSynchronize() != cudaSuccess) return 3;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) tiny<<<1, 32>>>(d);
    cudaError_t err = cudaDeviceSynchronize();
    auto t1 = std::chrono::steady_clock::now();
    if (err != cudaSuccess || cudaGetLastError() != cudaSuccess) return 4;
    double us = std::chrono::duration<double, std::micro>(t1 - t0).count() / n;
    printf("{\"us_per_launch\": %.4f, \"per_second\": %.1f}\n", us, 1e6 / us);
    return 0;
}
