"""``ngd fit``'s fits: every method on the chosen backend, the warnings they raise recorded."""
import warnings

import ngd
from ngd import formula as formulas
from ngd.cli import _penalty


def run_fits(args, backend, dataset, options, frame, progress):
    """({method: FitResult}, the warnings raised): the fits of ``options`` on ``backend``
    (named by the formula's ``frame`` when given); a DataError names DATA."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            results = _fit_on(backend, dataset, options, args.scheduler)
        except ngd.DataError as exc:
            raise ngd.DataError(f"{args.data}: {exc}") from None
        finally:
            progress.close()
    for result in results.values() if frame is not None else ():
        formulas.attach(result, frame)      # names, terms and the spec for --output
    return results, caught


def _fit_on(backend, dataset, options, scheduler):
    """{method: FitResult} of ``options``' methods on the Dask, chunked or in-memory backend
    (ngd.compare with ``backend``; the Dask fits on a client of ``scheduler``, Dask's default
    while they run)."""
    if backend == "dask":
        from ngd.dask_backend import cluster_client
        with cluster_client(scheduler):
            return _penalty.compare(dataset, dict(options, backend="dask"))
    return _penalty.compare(dataset, dict(options, backend=backend))
