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
    """{method: FitResult} of ``options``' methods on the Dask, chunked or in-memory backend."""
    if backend == "dask":
        from ngd.dask_backend import as_dask_dataset, cluster_client, fit_methods
        with cluster_client(scheduler) as client:
            return fit_methods(as_dask_dataset(dataset), options, client)
    if backend == "chunked":
        from ngd.chunked import fit as chunked_fit
        from ngd.chunked.fit import fit_methods
        return fit_methods(chunked_fit, dataset, options)
    return _penalty.compare(dataset, options)
