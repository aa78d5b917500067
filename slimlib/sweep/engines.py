"""Where trials run: this process, a Dask LocalCluster, or an existing Dask cluster.

Every engine offers the same three calls to the driver: `submit(fn, payload)` returns a future,
`wait(futures, timeout)` returns the finished ones (as they land, so each is stored before the
next finishes: a dead worker cannot take finished results with it), and `close()`.
Each Dask worker runs one trial at a time (one Dask thread) with `threads` torch threads, and
workers x threads never exceed a machine's cores.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from ..errors import SlimlibError
from ..optional import require

ENGINES = ("inline", "local", "dask")
Log = Callable[[str], None]


@dataclass
class Plan:
    """How many trials run at once and with how many torch threads each."""

    workers: int
    threads: int
    messages: list[str] = field(default_factory=list)


def plan_local(cores: int, workers: int | None, threads: int | None) -> Plan:
    """Default: as many one-thread workers as cores; clamp anything that would oversubscribe."""
    if workers is not None and workers < 1:
        raise SlimlibError(f"--workers: {workers} is not allowed; give 1 or more")
    if threads is not None and threads < 1:
        raise SlimlibError(f"--threads-per-worker: {threads} is not allowed; give 1 or more")
    messages = []
    threads = threads or 1
    if threads > cores:
        messages.append(f"--threads-per-worker {threads} clamped to {cores}, the cores of this machine")
        threads = cores
    most = max(1, cores // threads)
    if workers is None:
        workers = most
    elif workers > most:
        messages.append(f"--workers {workers} clamped to {most}: {workers} x {threads} threads would exceed "
                        f"the {cores} cores")
        workers = most
    return Plan(workers, threads, messages)


def plan_for_hosts(slots_and_cores: list[tuple[int, int]], threads: int | None) -> Plan:
    """For an existing cluster: each host's (Dask thread slots, cores); torch threads fit the tightest host."""
    if threads is not None and threads < 1:
        raise SlimlibError(f"--threads-per-worker: {threads} is not allowed; give 1 or more")
    threads = threads or 1
    fit = min(max(1, cores // max(1, slots)) for slots, cores in slots_and_cores)
    messages = []
    if threads > fit:
        messages.append(f"--threads-per-worker {threads} clamped to {fit}: a host of the cluster runs "
                        f"{max(s for s, _ in slots_and_cores)} trials at once on its cores")
        threads = fit
    return Plan(sum(slots for slots, _ in slots_and_cores), threads, messages)


class InlineEngine:
    """Trials run one after the other in this process (debugging, the app without Dask)."""

    name = "inline"

    def __init__(self, threads: int | None = None, log: Log = lambda _m: None):
        import torch

        self._threads_before = torch.get_num_threads()  # trials set torch threads; give them back on close
        self.plan = plan_local(os.cpu_count() or 1, 1, threads)
        for message in self.plan.messages:
            log(message)

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, fn, payload) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(payload))
        except BaseException as exc:  # noqa: BLE001 - delivered to the driver like a remote failure
            future.set_exception(exc)
        return future

    def wait(self, futures, timeout: float):
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, future):
        return future.result()

    def cancel(self, futures) -> None:
        pass

    def close(self) -> None:
        import torch

        torch.set_num_threads(self._threads_before)


class DaskEngine:
    """Trials run on Dask workers; a LocalCluster is started (and closed) when no address is given."""

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int | None = None,
                 log: Log = lambda _m: None, connect_timeout: float = 30, worker_timeout: float = 120):
        try:
            distributed = require("distributed")
            Client, LocalCluster = distributed.Client, distributed.LocalCluster
        except ImportError:
            raise SlimlibError("--engine local/dask needs dask distributed (pip install distributed)") from None
        self.cluster = None
        if address is None:
            self.name = "local"
            self.plan = plan_local(os.cpu_count() or 1, workers, threads)
            # processes=True: torch releases the GIL only in kernels, and a crash stays in one worker.
            # No dashboard; the scheduler's HTTP server (always started) on a free loopback port, not
            # 8787 on every interface (which also warns when another cluster holds 8787).
            self.cluster = LocalCluster(n_workers=self.plan.workers, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            self.client = Client(self.cluster)
        else:
            self.name = "dask"
            if workers is not None:
                log("--workers is ignored with --engine dask: the cluster's workers are used")
            try:
                self.client = Client(address, timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise SlimlibError(f"--address {address}: cannot reach a Dask scheduler ({type(exc).__name__})") from None
            try:
                self.client.wait_for_workers(1, timeout=worker_timeout)
            except TimeoutError:  # WorkerStartTimeoutError is one
                self.client.close()
                raise SlimlibError(f"--address {address}: no worker joined the cluster within {worker_timeout:.0f} s") from None
            self.plan = plan_for_hosts(self._slots_and_cores(), threads)
        for message in self.plan.messages:
            log(message)

    def _slots_and_cores(self) -> list[tuple[int, int]]:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        cores = self.client.run(os.cpu_count)
        per_host: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for address, info in workers.items():
            host = info.get("host") or address.rsplit(":", 1)[0]
            per_host[host][0] += int(info.get("nthreads", 1))
            per_host[host][1] = int(cores.get(address) or 1)
        return [(slots, n) for slots, n in per_host.values()]

    @property
    def capacity(self) -> int:
        """Trials in flight: one per Dask thread slot, re-read so workers joining later get work."""
        if self.cluster is not None:
            return self.plan.workers
        try:
            slots = sum(int(w.get("nthreads", 1)) for w in self.client.scheduler_info(n_workers=-1)["workers"].values())
        except Exception:  # noqa: BLE001 - a scheduler hiccup: keep the last known size
            slots = self.plan.workers
        return max(1, slots)

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def submit(self, fn, payload):
        # A unique key (never deduplicated: two trials of one recipe are two measurements) that
        # names the trial, so the scheduler's view of who runs what is readable.
        key = f"slimlib-trial-{payload.get('trial')}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(fn, payload, key=key, pure=False)

    def wait(self, futures, timeout: float):
        wait = require("distributed").wait

        try:
            done, _ = wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(done)

    def result(self, future):
        return future.result()

    def cancel(self, futures) -> None:
        if futures:
            self.client.cancel(list(futures))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_engine(name: str, address: str | None = None, workers: int | None = None, threads: int | None = None,
                log: Log = lambda _m: None, worker_timeout: float = 120):
    if name not in ENGINES:
        raise SlimlibError(f"--engine: {name!r} is not an engine; choose one of {', '.join(ENGINES)}")
    if name == "dask" and not address:
        raise SlimlibError("--engine dask needs --address tcp://HOST:PORT of a running Dask scheduler")
    if name != "dask" and address:
        raise SlimlibError(f"--address only applies to --engine dask (got --engine {name})")
    if name == "inline":
        if workers not in (None, 1):
            log(f"--workers {workers} is ignored with --engine inline: trials run one at a time in this process")
        return InlineEngine(threads, log)
    return DaskEngine(address if name == "dask" else None, workers, threads, log, worker_timeout=worker_timeout)
