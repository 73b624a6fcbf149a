"""``ngd info``: versions, build and threading facts."""
import os
import platform
from importlib import metadata

import click

import ngd
from ngd.cli._output import emit_json
from ngd.report import format_table


OPTIONAL = {"dask": "--backend dask", "distributed": "--backend dask",
            "matplotlib": "--plot", "scikit-learn": "estimator checks, bench",
            "pyarrow": "Parquet, Feather, Arrow", "polars": "polars DataFrames",
            "pandas": "pandas DataFrames, --formula", "formulaic": "--formula"}


def _version(package):
    """The installed version of ``package``, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def gather_info():
    """Dictionary of versions (required and optional packages), OpenMP build flag, cores and
    BLAS/OpenMP thread pools."""
    from threadpoolctl import threadpool_info

    versions = {package: _version(package)
                for package in ("ngd", "numpy", "scipy", "click", "threadpoolctl", "Cython")}
    optional = {package: _version(package) for package in OPTIONAL}
    build = ngd.build_info()
    pools = [{key: pool.get(key) for key in ("user_api", "internal_api", "prefix", "version",
                                             "num_threads", "threading_layer")}
             for pool in threadpool_info()]
    return {"schema": "ngd.info/1", "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "optional": optional,
            "openmp": build["openmp"], "omp_max_threads": build["omp_max_threads"],
            "cpu_count": os.cpu_count(), "default_threads": build["default_threads"],
            "threadpools": pools}


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def info_command(as_json):
    """Show versions, the OpenMP build flag, cores and BLAS thread pools."""
    info = gather_info()
    if as_json:
        emit_json(info)
        return
    click.echo(f"ngd {info['versions']['ngd']} on Python {info['python']} ({info['platform']})")
    click.echo("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()
                                         if k != "ngd" and v))
    click.echo("optional: " + ", ".join(f"{k} {v or '-'} ({OPTIONAL[k]})"
                                         for k, v in info["optional"].items()))
    click.echo(f"OpenMP: {'on' if info['openmp'] else 'off'} "
               f"(max threads {info['omp_max_threads']}); cores: {info['cpu_count']}; "
               f"default threads: {info['default_threads']}")
    rows = [[p["user_api"], p["internal_api"], p["version"] or "-", p["num_threads"],
             p["prefix"]] for p in info["threadpools"]]
    click.echo(format_table(["api", "library", "version", "threads", "file"], rows, "lllrl"))
