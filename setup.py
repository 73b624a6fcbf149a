"""Build the Cython kernels of ngd.

The extension list is explicit; OpenMP is used when the compiler accepts it (probe below),
otherwise the kernels build serially. ``NGD_REQUIRE_OPENMP=1`` makes a failed probe an error,
``NGD_DEBUG_CYTHON=1`` turns bounds checks back on.
"""
import os
import pathlib
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup

HERE = pathlib.Path(__file__).parent
KERNELS = HERE / "src" / "ngd" / "_kernels"
MODULES = ["fused", "fisher", "linalg", "sparse", "sparse_fused", "categorical", "multiclass",
           "_openmp"]

OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d", n > 0);
    return 0;
}
"""


def openmp_flags():
    """Return (compile, link) flags if the C compiler builds and runs an OpenMP program."""
    if sys.platform == "win32":
        return ["/openmp"], []
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    flags = ["-fopenmp"]
    if sys.platform == "darwin":
        flags = ["-Xpreprocessor", "-fopenmp"]
    link = flags if sys.platform != "darwin" else ["-lomp"]
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "probe.c"
        exe = pathlib.Path(tmp) / "probe"
        src.write_text(OPENMP_PROBE)
        extra = os.environ.get("CPPFLAGS", "").split() + os.environ.get("LDFLAGS", "").split()
        try:
            subprocess.run(cc + flags + [str(src), "-o", str(exe)] + link + extra,
                           check=True, capture_output=True)
            out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = ""
    if out.strip() == "1":
        return flags, link
    if os.environ.get("NGD_REQUIRE_OPENMP") == "1":
        raise RuntimeError("NGD_REQUIRE_OPENMP=1 but the compiler cannot build OpenMP code")
    print("warning: OpenMP not available; building the ngd kernels serially", file=sys.stderr)
    return [], []


def write_blas_int():
    """Write _blas_int.pxi: SciPy's blas_int where it declares one, else C int (LP64)."""
    import scipy.linalg

    pxd = pathlib.Path(scipy.linalg.__file__).parent / "cython_blas.pxd"
    declares = pxd.exists() and "blas_int" in pxd.read_text()
    text = ("from scipy.linalg.cython_blas cimport blas_int\n" if declares
            else "ctypedef int blas_int\n")
    target = KERNELS / "_blas_int.pxi"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def extensions():
    from Cython.Build import cythonize

    write_blas_int()
    compile_omp, link_omp = openmp_flags()
    base = ["-O3"] if sys.platform != "win32" else ["/O2"]
    macros = [("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")]
    exts = [
        Extension(f"ngd._kernels.{name}", [f"src/ngd/_kernels/{name}.pyx"],
                  extra_compile_args=base + compile_omp, extra_link_args=link_omp,
                  define_macros=macros)
        for name in MODULES
    ]
    debug = os.environ.get("NGD_DEBUG_CYTHON") == "1"
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": True,
        "nonecheck": False,
        "cpow": True,
    }
    return cythonize(exts, compiler_directives=directives, include_path=["src"],
                     nthreads=os.cpu_count() or 1)


if __name__ == "__main__":
    setup(ext_modules=extensions(), options={"build_ext": {"parallel": os.cpu_count() or 1}})
