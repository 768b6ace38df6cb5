"""One GPU workload, run by check.py in a process of its own (with or without the library preloaded).

Prints one JSON object on its last line of output.
  memory  --framework torch|cupy   allocate until out of memory; report what the framework saw
  matmul  [--seconds S] [--start-at T] [--graph]   compute-bound bf16 matmul loop: iterations/s
  tiny    [--seconds S]            launch-bound loop of tiny PyTorch kernels: ops/s
"""
import argparse
import json
import os
import time

MIB = 1 << 20


def memory_torch():
    import torch

    free, total = torch.cuda.mem_get_info()
    chunks = []
    oom_error = None
    for step in (64 * MIB, 2 * MIB):
        try:
            while True:
                chunks.append(torch.empty(step, dtype=torch.uint8, device="cuda"))
        except torch.OutOfMemoryError as error:  # the allocator's own error type
            oom_error = type(error).__name__
    reserved = torch.cuda.memory_reserved()
    allocated = torch.cuda.memory_allocated()
    return {
        "mem_get_info_total_mib": total / MIB,
        "mem_get_info_free_mib": free / MIB,
        "reserved_at_oom_mib": reserved / MIB,
        "allocated_at_oom_mib": allocated / MIB,
        "error": oom_error,
        "allocator": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "default"),
    }


def memory_cupy():
    import cupy

    free, total = cupy.cuda.runtime.memGetInfo()
    chunks = []
    oom_error = None
    for step in (64 * MIB, 2 * MIB):
        try:
            while True:
                chunks.append(cupy.empty(step, dtype=cupy.uint8))
        except cupy.cuda.memory.OutOfMemoryError as error:
            oom_error = type(error).__name__
    pool = cupy.get_default_memory_pool()
    return {
        "mem_get_info_total_mib": total / MIB,
        "mem_get_info_free_mib": free / MIB,
        "reserved_at_oom_mib": pool.total_bytes() / MIB,
        "allocated_at_oom_mib": pool.used_bytes() / MIB,
        "error": oom_error,
    }


def matmul(seconds, start_at, graph):
    import torch

    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    c = torch.empty(n, n, device="cuda", dtype=torch.bfloat16)
    step = lambda: torch.matmul(a, b, out=c)  # noqa: E731
    per_call = 1
    if graph:
        # A CUDA graph of 8 matmuls: every replay is one cuGraphLaunch.
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(8):
                step()
        step = g.replay
        per_call = 8
    warm_until = time.time() + 1.5
    while time.time() < warm_until:
        step()
    torch.cuda.synchronize()
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    iterations = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        step()
        iterations += per_call
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    flops = 2 * n**3 * iterations
    return {"iterations": iterations, "seconds": elapsed, "per_second": iterations / elapsed,
            "tflops": flops / elapsed / 1e12}


def tiny(seconds):
    import torch

    x = torch.zeros(1, device="cuda")
    for _ in range(2000):
        x.add_(1)
    torch.cuda.synchronize()
    ops = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        for _ in range(1000):
            x.add_(1)
        ops += 1000
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    return {"ops": ops, "seconds": elapsed, "per_second": ops / elapsed}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["memory", "matmul", "tiny"])
    parser.add_argument("--framework", default="torch")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--graph", action="store_true")
    args = parser.parse_args()
    if args.kind == "memory":
        result = memory_torch() if args.framework == "torch" else memory_cupy()
    elif args.kind == "matmul":
        result = matmul(args.seconds, args.start_at, args.graph)
    else:
        result = tiny(args.seconds)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
