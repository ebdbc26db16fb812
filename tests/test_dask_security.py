"""Dask clusters made by scs_nb are closed to the network.

A scheduler runs in the user's process: whoever can connect to it can run code there
(``client.run_on_scheduler(os.getpid)``). Every cluster of ``make_cluster`` talks TLS with
temporary credentials of its own and serves its dashboard on the loopback address only.
"""

import asyncio
import os

import pytest

from scs_nb.errors import ToolBoxValueError
from scs_nb.parallel.cluster import make_cluster

distributed = pytest.importorskip("distributed")


@pytest.fixture
def credentials(tmp_path, monkeypatch):
    path = tmp_path / "creds"
    monkeypatch.setenv("SCS_NB_DASK_CREDENTIALS", str(path))
    return path


def _stranger_is_refused(address):
    """A client without the cluster's credentials cannot connect, so it cannot run anything:
    neither in plain TCP nor in TLS with credentials of its own."""
    from distributed.security import Security

    attempts = [
        (address.replace("tls://", "tcp://"), None),
        (address, Security.temporary()),
    ]
    for addr, security in attempts:
        with pytest.raises((OSError, TimeoutError, asyncio.TimeoutError)):
            distributed.Client(addr, timeout="2s", security=security, set_as_default=False)


def _http_hosts(cluster):
    """The addresses the scheduler's HTTP server (dashboard, metrics) listens on."""
    server = cluster.scheduler.http_server
    return {s.getsockname()[0] for s in server._sockets.values()}


def test_local_cluster_refuses_clients_without_credentials():
    with make_cluster("local", cores=1, processes=False) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        # the owner's client gets the credentials from the cluster and works
        with distributed.Client(cluster) as client:
            assert client.submit(lambda x: x + 1, 1).result() == 2
            assert client.run_on_scheduler(os.getpid) == os.getpid()
        _stranger_is_refused(address)
        assert _http_hosts(cluster) == {"127.0.0.1"}


def test_slurm_cluster_uses_tls_with_private_credentials(credentials):
    """The SLURM scheduler (in this process, on a network interface) takes TLS only."""
    cluster = make_cluster("slurm", partition="upex", cores=1, memory="1GB")
    try:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        _stranger_is_refused(address)
        assert _http_hosts(cluster) == {"127.0.0.1"}
        # the workers' job script points at the credentials written for them, readable by
        # the owner only, in a folder readable by the owner only
        script = cluster.job_script()
        assert "--tls-ca-file" in script and "--tls-key" in script
        assert "tls://" in script
        files = list(credentials.iterdir())
        assert files and all(str(f) in script for f in files)
        assert (credentials.stat().st_mode & 0o777) == 0o700
        assert all((f.stat().st_mode & 0o077) == 0 for f in files)
    finally:
        cluster.close()


def test_open_clusters_are_refused(credentials):
    for kind in ("local", "slurm"):
        with pytest.raises(ToolBoxValueError, match="dashboard"):
            make_cluster(kind, cores=1, dashboard_address=":8787")
        with pytest.raises(ToolBoxValueError, match="security"):
            make_cluster(kind, cores=1, security=False)
    with pytest.raises(ToolBoxValueError, match="loopback"):
        make_cluster("local", cores=1, host="0.0.0.0")


def test_dashboard_can_be_off():
    with make_cluster("local", cores=1, processes=False, dashboard_address=None) as cluster:
        # dask still serves its small HTTP API (health, metrics), on loopback only
        assert _http_hosts(cluster) == {"127.0.0.1"}
        assert cluster.scheduler.http_server.port != 0


def test_dssc_get_client_is_secure():
    from scs_nb.detectors.dssc.binning.process import get_client

    client, owned = get_client(n_workers=1, processes=False)
    try:
        assert owned and client.scheduler.address.startswith("tls://127.0.0.1:")
        assert _http_hosts(client.cluster) == {"127.0.0.1"}
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
