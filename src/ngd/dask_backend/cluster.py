"""The Dask client of ``ngd fit --backend dask``."""
import contextlib


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
