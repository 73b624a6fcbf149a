"""The Dask client of ``ngd fit --backend dask`` and the methods it runs."""
import contextlib

from ngd.dask_backend.model import MODEL_METHODS, fit


@contextlib.contextmanager
def cluster_client(scheduler=None):
    """A ``distributed.Client`` on ``scheduler`` (an address such as tcp://host:8786), or on
    a LocalCluster of worker processes listening on loopback only; closed on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--backend dask needs dask.distributed: pip install 'ngd[dask]'") \
            from None
    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(host="127.0.0.1", dashboard_address=None, processes=True) as cluster, \
            Client(cluster) as client:
        yield client


def fit_methods(dataset, options, client):
    """{method: FitResult} for ``ngd fit --backend dask``: the first of ``options["methods"]``
    and the others the Dask backend supports (ngd, newton); statistics for the first only."""
    options = dict(options)
    methods = options.pop("methods")
    options.pop("statistics", None)
    options.pop("seed", None)
    methods = methods[:1] + [m for m in methods[1:] if m in MODEL_METHODS]
    return {method: fit(dataset.X, dataset.y, method=method, client=client,
                        statistics=(i == 0), **options)
            for i, method in enumerate(methods)}
