"""The enforcement library on a real GPU: memory limit, compute share, overhead.

Run by native/gpu-check.sh after it built the library. Every workload runs in a process of
its own, with the library preloaded as a container would have it, or without it for the
baselines. Prints a table last and writes every number to $OUT/gpu-check.json (or ./).
Exit status 1 when a check misses its target.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.dirname(HERE)
LIB = os.path.join(NATIVE, "build", "release", "libtessera.so")
BENCH = os.path.join(NATIVE, "build", "gpu", "launch_bench")
OUT = os.environ.get("OUT") or "."
SCRUB = ("CUDA_DEVICE_", "CUDA_TASK_PRIORITY", "GPU_CORE_UTILIZATION_POLICY", "CUDA_DISABLE_CONTROL",
         "TESSERA_", "LD_PRELOAD", "PYTORCH_CUDA_ALLOC_CONF")
MIB_4G = 4096.0

results = {"checks": [], "runs": []}
rows = []


class ClockSampler:
    """SM clock and power draw from nvidia-smi every 100 ms, to read off what each run ran at."""

    def __init__(self):
        self.samples = []
        self.proc = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=clocks.sm,power.draw", "--format=csv,noheader,nounits", "-lms", "100"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                clock, power = (float(x) for x in line.split(","))
                self.samples.append((time.time(), clock, power))
            except ValueError:
                pass

    def between(self, t0, t1):
        window = [(c, p) for t, c, p in self.samples if t0 <= t <= t1]
        if not window:
            return None
        return {"sm_clock_mhz": statistics.mean(c for c, _ in window),
                "power_w": statistics.mean(p for _, p in window)}


sampler = None


def save():
    with open(os.path.join(OUT, "gpu-check.json"), "w") as f:
        json.dump(results, f, indent=2)


def environment(limits, preload, board=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB)}
    env["PYTHONUNBUFFERED"] = "1"
    if preload:
        env["LD_PRELOAD"] = LIB
        # A fresh accounting region per run, as each container has its own.
        env["CUDA_DEVICE_MEMORY_SHARED_CACHE"] = tempfile.mktemp(prefix="tessera-", suffix=".cache")
        env["TESSERA_BOARD_DIR"] = board or tempfile.mkdtemp(prefix="tessera-board-")
    env.update(limits)
    return env


def start(argv, limits=None, preload=True, board=None):
    env = environment(limits or {}, preload, board)
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, label, timeout=180):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    ended = time.time()
    record = {"label": label, "status": proc.returncode, "stderr_tail": err[-2000:]}
    try:
        record.update(json.loads(out.strip().splitlines()[-1]))
    except (IndexError, ValueError):
        record["stdout_tail"] = out[-2000:]
    if sampler and "seconds" in record:
        # The timed loop ended just before the process printed and exited.
        load = sampler.between(ended - 0.5 - record["seconds"], ended - 0.5)
        if load:
            record.update(load)
    results["runs"].append(record)
    save()
    print(f"  {label}: {json.dumps({k: v for k, v in record.items() if k != 'stderr_tail'})}", flush=True)
    if proc.returncode != 0:
        print(f"    stderr: {err[-1500:]}", flush=True)
    return record


def workload(args, label, limits=None, preload=True):
    return finish(start([sys.executable, os.path.join(HERE, "workload.py"), *args], limits, preload), label)


def check(name, target, measured, ok):
    results["checks"].append({"check": name, "target": target, "measured": measured, "pass": bool(ok)})
    rows.append((name, target, measured, "yes" if ok else "NO"))
    save()


def note(name, measured):
    """A measurement reported for understanding, with no target of its own."""
    results.setdefault("notes", []).append({"note": name, "measured": measured})
    rows.append((name, "(information)", measured, "-"))
    save()


def memory_checks():
    limit = {"CUDA_DEVICE_MEMORY_LIMIT": "4g"}
    for label, args, extra in (
        ("PyTorch", ["memory", "--framework", "torch"], {}),
        ("PyTorch expandable segments", ["memory", "--framework", "torch"],
         {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}),
        ("CuPy", ["memory", "--framework", "cupy"], {}),
    ):
        r = workload(args, f"memory {label}", {**limit, **extra})
        total = r.get("mem_get_info_total_mib", -1)
        at_oom = r.get("reserved_at_oom_mib", -1)
        check(f"{label}: mem_get_info total", "4096 MiB", f"{total:.0f} MiB", abs(total - MIB_4G) < 1)
        check(f"{label}: out of memory at", "4096 MiB ± 1%", f"{at_oom:.0f} MiB ({r.get('error')})",
              abs(at_oom - MIB_4G) <= 0.01 * MIB_4G and r.get("error") == "OutOfMemoryError")


def clock_note(run, base_run):
    """Throughput scaled back to the unlimited run's SM clock: the share of GPU time the run had."""
    if "sm_clock_mhz" not in run or "sm_clock_mhz" not in base_run:
        return ""
    return f", at {run['sm_clock_mhz']:.0f} vs {base_run['sm_clock_mhz']:.0f} MHz"


def compute_checks():
    base_run = workload(["matmul"], "matmul without the library", preload=False)
    base = base_run["per_second"]
    for share in (25, 50):
        r = workload(["matmul"], f"matmul at {share}%", {"CUDA_DEVICE_SM_LIMIT": str(share)})
        ratio = 100 * r.get("per_second", 0) / base
        check(f"bf16 matmul at CUDA_DEVICE_SM_LIMIT={share}", f"{share}% ± 5 of unlimited",
              f"{ratio:.1f}%{clock_note(r, base_run)}", abs(ratio - share) <= 5)
    r = workload(["matmul"], "matmul at 50%, 100 ms quantum",
                 {"CUDA_DEVICE_SM_LIMIT": "50", "TESSERA_SM_QUANTUM_MS": "100"})
    note("bf16 matmul at 50% with TESSERA_SM_QUANTUM_MS=100",
         f"{100 * r.get('per_second', 0) / base:.1f}%{clock_note(r, base_run)}")
    gbase = workload(["matmul", "--graph"], "graph replay without the library", preload=False)["per_second"]
    r = workload(["matmul", "--graph"], "graph replay at 25%", {"CUDA_DEVICE_SM_LIMIT": "25"})
    ratio = 100 * r.get("per_second", 0) / gbase
    check("CUDA graph replay at CUDA_DEVICE_SM_LIMIT=25", "25% ± 5", f"{ratio:.1f}%", abs(ratio - 25) <= 5)

    # Two containers on one GPU at 50% each: separate regions, one node-wide device board.
    board = tempfile.mkdtemp(prefix="tessera-board-")
    start_at = time.time() + 20
    script = [sys.executable, os.path.join(HERE, "workload.py"), "matmul", "--start-at", str(start_at)]
    procs = [start(script, {"CUDA_DEVICE_SM_LIMIT": "50"}, board=board) for _ in range(2)]
    pair = [finish(p, f"matmul side by side {i + 1}") for i, p in enumerate(procs)]
    ratios = [100 * p.get("per_second", 0) / base for p in pair]
    check("two processes at 50% each, side by side", "about 50% each (± 7)",
          " / ".join(f"{x:.1f}%" for x in ratios), all(abs(x - 50) <= 7 for x in ratios))


def overhead(label, run_without, run_with, reps, limit_pct):
    """Alternating pairs; the cost is the median of the per-pair differences, which cancels slow drift."""
    without, with_lib, costs = [], [], []
    for _ in range(reps):
        a, b = run_without(), run_with()
        without.append(a)
        with_lib.append(b)
        costs.append(100 * (a - b) / a)
    cost = statistics.median(costs)
    spread = statistics.pstdev(costs)
    check(f"overhead, {label}", f"≤ {limit_pct}%",
          f"{cost:+.2f}% (pairs ±{spread:.1f}; {statistics.median(with_lib):.0f} vs {statistics.median(without):.0f}/s)",
          cost <= limit_pct)


def overhead_checks():
    not_binding = {"CUDA_DEVICE_MEMORY_LIMIT": "120g"}
    overhead("bf16 matmul loop, limits not binding",
             lambda: workload(["matmul", "--seconds", "3"], "matmul baseline", preload=False)["per_second"],
             lambda: workload(["matmul", "--seconds", "3"], "matmul with library", not_binding)["per_second"],
             3, 1)
    bench = lambda pre: finish(start([BENCH, "150000"], not_binding, preload=pre),  # noqa: E731
                               f"tiny kernel launches {'with' if pre else 'without'} library")["per_second"]
    bench(False)  # warm-up: the first launch-bound run of a fresh machine is slower
    overhead("launch-bound tiny kernels (CUDA runtime)", lambda: bench(False), lambda: bench(True), 15, 3)
    workload(["tiny", "--seconds", "1"], "torch tiny warm-up", preload=False)
    overhead("launch-bound tiny kernels (PyTorch)",
             lambda: workload(["tiny", "--seconds", "1.5"], "torch tiny baseline", preload=False)["per_second"],
             lambda: workload(["tiny", "--seconds", "1.5"], "torch tiny with library", not_binding)["per_second"],
             5, 3)


def nvidia_smi_check():
    env = environment({"CUDA_DEVICE_MEMORY_LIMIT": "4g"}, True)
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                         env=env, capture_output=True, text=True, timeout=60)
    value = out.stdout.strip().splitlines()[0] if out.stdout.strip() else out.stderr.strip()[:80]
    check("nvidia-smi inside the share: memory.total", "4096 MiB", f"{value} MiB", value.strip() == "4096")


def main():
    global sampler
    print(f"library: {LIB}", flush=True)
    sampler = ClockSampler()
    steps = {"memory": memory_checks, "compute": compute_checks, "overhead": overhead_checks,
             "nvidia-smi": nvidia_smi_check}
    chosen = sys.argv[1:] or list(steps)
    unknown = [name for name in chosen if name not in steps]
    if unknown:
        print(f"unknown step(s) {unknown}; choose from {list(steps)}", file=sys.stderr)
        return 2
    for step in (steps[name] for name in chosen):
        try:
            step()
        except Exception as error:  # keep going: the other checks still tell something
            check(step.__name__, "runs", f"crashed: {error!r}"[:120], False)
    width = max(len(r[0]) for r in rows)
    print("\n" + f"{'check':<{width}}  {'target':<22}  {'measured':<34}  pass")
    for name, target, measured, ok in rows:
        print(f"{name:<{width}}  {target:<22}  {measured:<34}  {ok}")
    return 0 if all(c["pass"] for c in results["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
