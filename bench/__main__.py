"""``python -m bench``: discover the asv-style classes of bench/bench_*.py, run their parameter
grids (best of ``repeat`` after warm-up, time.perf_counter), print tables, optionally write JSON.

    python -m bench                      # everything, full sizes
    python -m bench --quick              # smallest sizes, one run each (smoke test)
    python -m bench --only kernels --json results.json
    python -m bench --only peers         # ngd vs scikit-learn, glum, statsmodels (bench_peers)
    python -m bench --only peers --seed 3 --markdown peers.md   # other data, markdown tables

A suite module with a ``run_suite(quick, log) -> (records, failures)`` function runs itself
(bench_peers: one child process per problem) instead of being discovered class by class;
``--seed`` reaches the suites whose run_suite takes a ``seed``, and ``--markdown`` collects
the ``markdown(records)`` of the suites that have one.
"""
import argparse
import importlib
import inspect
import itertools
import json
import math
import sys
import time
import traceback

SUITES = {"kernels": "bench.bench_kernels", "solvers": "bench.bench_solvers",
          "peers": "bench.bench_peers", "sparse": "bench.bench_sparse",
          "curvature": "bench.bench_curvature", "sqn": "bench.bench_sqn",
          "diagonal": "bench.bench_diagonal", "path": "bench.bench_path",
          "dask": "bench.bench_dask", "chunked": "bench.bench_chunked",
          "sparse_enet": "bench.bench_sparse_enet", "categorical": "bench.bench_categorical"}


def discover(module):
    """Benchmark classes of ``module``: public classes defined there with time_/track_ methods."""
    classes = []
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if name.startswith("_") or cls.__module__ != module.__name__:
            continue
        if any(m.startswith(("time_", "track_")) for m in dir(cls)):
            classes.append(cls)
    order = {name: i for i, name in enumerate(vars(module))}
    return sorted(classes, key=lambda c: order.get(c.__name__, 0))


def param_grid(cls, quick):
    params = getattr(cls, "quick_params", None) if quick else None
    params = params or getattr(cls, "params", None) or [[]]
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]                   # asv allows a flat list for one parameter
    names = list(getattr(cls, "param_names", [f"param{i}" for i in range(len(params))]))
    return names, list(itertools.product(*params))


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_class(cls, quick, repeat, log):
    """Records for every parameter set and every time_/track_ method of ``cls``."""
    from bench.common import best_of
    names, grid = param_grid(cls, quick)
    methods = sorted(m for m in dir(cls) if m.startswith(("time_", "track_")))
    n_repeat = repeat or (1 if quick else getattr(cls, "repeat", 5))
    if not isinstance(n_repeat, int):       # asv's (min, max, max_time) form
        n_repeat = n_repeat[0]
    warmup = 0 if quick else getattr(cls, "warmup", 1)
    records = []
    for combo in grid:
        params = dict(zip(names, combo))
        label = f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in params.items())})"
        inst = cls()
        base = dict(benchmark=cls.__name__, params={k: _plain(v) for k, v in params.items()})
        try:
            if hasattr(inst, "setup"):
                inst.setup(*combo)
        except NotImplementedError as exc:
            log(f"  skip {label}: {exc}")
            records.extend(dict(base, name=m, kind=m.split("_", 1)[0], skipped=str(exc))
                           for m in methods)
            continue
        start = time.perf_counter()
        try:
            for name in methods:
                fn = getattr(inst, name)
                kind = name.split("_", 1)[0]
                try:
                    if kind == "time":
                        best, times = best_of(lambda: fn(*combo), n_repeat, warmup)
                        records.append(dict(base, name=name, kind=kind, value=best,
                                            times=times))
                    else:
                        records.append(dict(base, name=name, kind=kind,
                                            value=_plain(fn(*combo))))
                except NotImplementedError as exc:
                    records.append(dict(base, name=name, kind=kind, skipped=str(exc)))
        finally:
            if hasattr(inst, "teardown"):
                inst.teardown(*combo)
        log(f"  ran  {label} in {time.perf_counter() - start:.2f} s")
    return records


class _Parser(argparse.ArgumentParser):
    """argparse with one ``Error: ...`` line and exit status 2 on a bad argument (no usage
    block), as the ngd command line does."""

    def error(self, message):
        print(f"Error: {message}", file=sys.stderr)
        sys.exit(2)


def _int_at_least(minimum):
    """argparse type: an int >= ``minimum``."""
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not >= {minimum}")
        return value
    return convert


def main(argv=None):
    parser = _Parser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smallest sizes, one timed run per benchmark (smoke test)")
    parser.add_argument("--only", choices=sorted(SUITES), action="append",
                        help="run only this suite (repeatable)")
    parser.add_argument("--json", metavar="PATH", help="write results and machine info here")
    parser.add_argument("--repeat", type=_int_at_least(1), default=None,
                        help="timed runs per benchmark (default: the class's repeat)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--seed", type=_int_at_least(0), default=None,
                        help="seed of the generated data, for the suites that take one")
    parser.add_argument("--markdown", metavar="PATH",
                        help="write the markdown tables of the suites that have them here")
    args = parser.parse_args(argv)

    from bench.common import machine_info
    from ngd.io import write_files_atomic

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    suites = args.only or list(SUITES)
    records, tables, failed, markdown = [], [], [], []
    for suite in suites:
        module = importlib.import_module(SUITES[suite])
        log(f"[{suite}]")
        suite_records = []
        if hasattr(module, "run_suite"):              # a suite that runs its own processes
            seeded = args.seed is not None and \
                "seed" in inspect.signature(module.run_suite).parameters
            suite_records, failures = module.run_suite(
                args.quick, log, **({"seed": args.seed} if seeded else {}))
            failed.extend(f"{suite}: {msg.splitlines()[0]}" for msg in failures)
        for cls in discover(module):
            try:
                suite_records.extend(run_class(cls, args.quick, args.repeat, log))
            except Exception:                         # report, keep the other benchmarks
                failed.append(cls.__name__)
                log(f"  FAILED {cls.__name__}:\n{traceback.format_exc()}")
        for rec in suite_records:
            rec["suite"] = suite
        records.extend(suite_records)
        if hasattr(module, "summarize"):
            tables.extend(module.summarize(suite_records))
        if hasattr(module, "markdown"):
            markdown.append(module.markdown(suite_records))

    dgemm = {}
    if "kernels" in suites:
        from bench.bench_kernels import dgemm_peak
        dgemm = {str(k): v for k, v in dgemm_peak(records).items()}
    info = machine_info(dgemm)
    print(f"ngd {info['versions']['ngd']} | numpy {info['versions']['numpy']} | "
          f"scipy {info['versions']['scipy']} | {info['cpu']} | {info['usable_cores']} cores | "
          f"OpenMP {'on' if info['openmp'].get('enabled') else 'off'}"
          + (" | quick" if args.quick else ""))
    for title, text in tables:
        print(f"\n{title}\n{text}")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    if args.json:
        payload = dict(machine=info, quick=args.quick, seed=args.seed, suites=suites,
                       failed=failed,
                       records=records,
                       tables=[dict(title=t, text=x) for t, x in tables])
        write_files_atomic([(args.json, json.dumps(payload, indent=2, default=_plain) + "\n")])
        log(f"wrote {args.json}")
    if args.markdown:
        write_files_atomic([(args.markdown, "\n\n".join(markdown) + "\n")])
        log(f"wrote {args.markdown}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
