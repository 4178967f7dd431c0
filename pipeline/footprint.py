"""What a run cost: time, CPU, I/O, peak memory, energy and CO2e, measured by the run itself.

A ``Meter`` is started when a run starts and read just before its STAC Item is written.
Everything comes from the process itself (Linux ``/proc/self``, ``os.times``,
``resource``) plus RAPL energy counters where the kernel lets us read them; when it
does not (containers, non-root, non-Intel/AMD hosts) energy is *modelled* as CPU
seconds x a per-core power, and the output says which method gave the number.

RAPL counts the whole CPU package (every process on the host), so on a shared machine
it over-attributes; the model attributes only this process's CPU time but ignores
memory, disks, network and idle power. Both are estimates with the method recorded.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Grid carbon intensity when none is given, gCO2e per kWh of electricity: the world
# average of electricity generation as reported by the IEA (Global Energy & CO2 Status
# Report 2019: 475 gCO2/kWh in 2018; later years are within a few percent). Pass the
# local grid's value (``--grid-intensity``) for a meaningful number: it ranges from
# ~20 (hydro/nuclear grids) to ~800 (coal-heavy grids).
DEFAULT_GRID_INTENSITY = 475.0

# Per-core power of the energy model, W: the Green Algorithms calculator's default
# per-core TDP for an unknown CPU (Lannelongue, Grealey & Inouye, Advanced Science
# 2021); e.g. a 150 W 20-core Xeon Gold 6248 is 7.5 W/core, a 280 W 64-core EPYC 7763
# 4.4 W/core, so 12 W leans to overestimating.
DEFAULT_WATTS_PER_CORE = 12.0

POWERCAP_ROOT = Path("/sys/class/powercap")
PROC_SELF = Path("/proc/self")
SAMPLE_SECONDS = 0.025  # RSS sampling period: catches allocations that live >= ~50 ms
RAPL_EVERY = 40  # read RAPL every N samples (~1 s): no counter can wrap twice in between
J_PER_KWH = 3.6e6
FOOTPRINT_COLUMNS = ["quantity", "value", "unit", "note"]


@dataclass(frozen=True)
class Counters:
    """What another process doing the run's work has used so far (read at start and end of a run)."""

    cpu_s: float
    rchar: int | None
    wchar: int | None
    max_rss: int


def own_counters() -> Counters:
    """This process's counters (what a Dask worker reports about itself)."""
    io = _io_counters(PROC_SELF) or {}
    return Counters(cpu_s=_cpu_seconds(), rchar=io.get("rchar"), wchar=io.get("wchar"), max_rss=_max_rss_bytes())


@dataclass(frozen=True)
class Footprint:
    """One run's measured cost. ``None`` where the host cannot measure a quantity."""

    wall_s: float
    cpu_s: float
    bytes_read: int | None
    bytes_written: int | None
    product_bytes: int | None
    peak_memory_bytes: int | None
    start_memory_bytes: int | None
    max_rss_bytes: int
    energy_j: float
    energy_method: str
    grid_intensity_g_per_kwh: float
    co2e_g: float
    aoi_km2: float | None
    cpu_count: int | None
    workers: int = 0  # Dask worker processes whose CPU time and I/O are summed in (0: threads of this process)
    tasks: int | None = None  # tasks of the product's compute
    workers_peak_memory_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with per-km² variants and what each number means."""
        out: dict[str, Any] = asdict(self)
        out.update({f"{k}_per_km2": v for k, v in self.per_km2().items()})
        out["notes"] = {
            "bytes_read": "rchar delta of /proc/self/io: files, pipes and sockets (HTTP COG reads count), "
                          "including page-cache hits",
            "bytes_written": "wchar delta of /proc/self/io",
            "product_bytes": "size of the product directory before item.json and report.html were written",
            "peak_memory_bytes": f"highest RSS sampled every {SAMPLE_SECONDS * 1000:.0f} ms during the run",
            "max_rss_bytes": "ru_maxrss: the process's lifetime peak RSS (may predate the run)",
            "cpu_s": "user + system CPU time of this process and of every Dask worker process (their deltas)",
            "workers_peak_memory_bytes": "the highest ru_maxrss of the Dask workers: each worker's lifetime peak",
            "co2e_g": "energy_j / 3.6e6 J/kWh x grid_intensity_g_per_kwh",
        }
        return out

    def per_km2(self) -> dict[str, float | None]:
        """Cost per km² of AOI: what scales when the AOI grows."""
        quantities = {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "bytes_read": self.bytes_read,
                      "energy_j": self.energy_j, "co2e_g": self.co2e_g}
        if not self.aoi_km2:
            return dict.fromkeys(quantities)
        return {k: (v / self.aoi_km2 if v is not None else None) for k, v in quantities.items()}

    def frame(self) -> pd.DataFrame:
        """``footprint.csv``: one row per quantity (``quantity, value, unit, note``), NaN when unknown."""
        method = f"energy method: {self.energy_method}"
        series: list[tuple[str, float | None, str, str]] = [
            ("wall_time", self.wall_s, "s", "wall-clock time of the run: search, load, compute, write"),
            ("cpu_time", self.cpu_s, "s", "user + system CPU time, all threads of this process and of its Dask "
                                          "workers"),
            ("bytes_read", self.bytes_read, "B", "bytes read by the process (files and network)"),
            ("bytes_written", self.bytes_written, "B", "bytes written by the process"),
            ("product_size", self.product_bytes, "B", "bytes of the product directory"),
            ("peak_memory", self.peak_memory_bytes, "B", "peak resident memory during the run"),
            ("workers", self.workers, "1", "Dask worker processes (0: this process's threads); CPU time and bytes "
                                            "include theirs"),
            ("workers_peak_memory", self.workers_peak_memory_bytes, "B", "the highest lifetime peak RSS of a worker"),
            ("tasks", self.tasks, "1", "Dask tasks of the product's compute: they grow with the number of blocks"),
            ("energy", self.energy_j, "J", method),
            ("co2e", self.co2e_g, "gCO2e", f"at {self.grid_intensity_g_per_kwh:g} gCO2e/kWh; {method}"),
        ]
        per_km2 = self.per_km2()
        units = {"wall_s": "s/km2", "cpu_s": "s/km2", "bytes_read": "B/km2", "energy_j": "J/km2",
                 "co2e_g": "gCO2e/km2"}
        names = {"wall_s": "wall_time", "cpu_s": "cpu_time", "bytes_read": "bytes_read", "energy_j": "energy",
                 "co2e_g": "co2e"}
        area = f"per km2 of AOI ({self.aoi_km2:.3f} km2, geodesic)" if self.aoi_km2 else "AOI area unknown"
        series += [(f"{names[k]}_per_km2", v, units[k], area) for k, v in per_km2.items()]
        rows = [dict(quantity=name, value=float("nan") if value is None else float(value), unit=unit, note=note)
                for name, value, unit, note in series]
        import pandas as pd

        return pd.DataFrame(rows, columns=FOOTPRINT_COLUMNS).astype({"value": "float64"})

    def summary(self) -> str:
        """One line for the CLI."""
        read = f", {self.bytes_read / 1e9:.2f} GB read" if self.bytes_read is not None else ""
        method = "RAPL" if self.energy_method == "rapl" else "model"
        return (f"footprint: {self.wall_s:.1f} s wall, {self.cpu_s:.1f} s CPU{read}, "
                f"{self.energy_j:.0f} J ({method}), {self.co2e_g:.3g} gCO2e")


def co2e_grams(energy_j: float, grid_intensity_g_per_kwh: float) -> float:
    """Energy in joules at a grid intensity in gCO2e/kWh -> grams CO2e."""
    return energy_j / J_PER_KWH * grid_intensity_g_per_kwh


def model_energy(cpu_s: float, watts_per_core: float) -> float:
    """Joules of the CPU model: one core at ``watts_per_core`` for each CPU second."""
    return cpu_s * watts_per_core


def aoi_area_km2(geometry) -> float:
    """Geodesic area of a lon/lat shapely geometry on the WGS84 ellipsoid, km²."""
    from pyproj import Geod

    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(geometry)
    return abs(area) / 1e6


def directory_bytes(path: Path) -> int:
    """Sum of the sizes of the regular files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())


class Rapl:
    """Package energy counters (``intel-rapl:N/energy_uj``), accumulated across wrap-arounds.

    Only top-level zones (packages) are summed: their sub-zones (core, dram) are parts
    of them or overlap. ``update`` must run more often than the fastest wrap (minutes).
    """

    def __init__(self, root: Path = POWERCAP_ROOT) -> None:
        self.zones: list[tuple[Path, int]] = []
        self.last: list[int] = []
        self.total_uj = 0
        for zone in sorted(Path(root).glob("intel-rapl:*")):
            if zone.name.count(":") != 1:
                continue  # a sub-zone, e.g. intel-rapl:0:0
            try:
                value = _read_int(zone / "energy_uj")
                max_range = _read_int(zone / "max_energy_range_uj")
            except (OSError, ValueError):
                continue  # not readable (often root-only): the model is used instead
            self.zones.append((zone, max_range))
            self.last.append(value)

    @property
    def available(self) -> bool:
        return bool(self.zones)

    def update(self) -> None:
        for i, (zone, max_range) in enumerate(self.zones):
            try:
                value = _read_int(zone / "energy_uj")
            except (OSError, ValueError):
                continue
            self.total_uj += wrapped_delta(self.last[i], value, max_range)
            self.last[i] = value

    @property
    def joules(self) -> float:
        return self.total_uj / 1e6


def wrapped_delta(start: int, end: int, max_range: int) -> int:
    """Counter increase from ``start`` to ``end`` for a counter that wraps at ``max_range``."""
    return end - start if end >= start else max_range - start + end


class Meter:
    """Measures a run from ``start()`` to ``read()``; use as a context manager.

    A daemon thread samples RSS (``ru_maxrss`` is a lifetime peak, useless for a run
    inside a long-lived process) and keeps RAPL counters from wrapping unnoticed.
    """

    def __init__(self, *, grid_intensity: float = DEFAULT_GRID_INTENSITY,
                 watts_per_core: float = DEFAULT_WATTS_PER_CORE, powercap_root: Path = POWERCAP_ROOT,
                 proc_self: Path = PROC_SELF, interval: float = SAMPLE_SECONDS,
                 remote: Callable[[], Mapping[str, Counters] | None] | None = None) -> None:
        if not grid_intensity >= 0:
            raise ValueError(f"grid intensity must be >= 0 gCO2e/kWh; got {grid_intensity} "
                             f"(the world average is ~{DEFAULT_GRID_INTENSITY:g})")
        if not watts_per_core > 0:
            raise ValueError(f"watts per core must be > 0; got {watts_per_core}")
        self.grid_intensity = float(grid_intensity)
        self.watts_per_core = float(watts_per_core)
        self.powercap_root = Path(powercap_root)
        self.proc_self = Path(proc_self)
        self.interval = interval
        self.remote = remote  # counters of other processes doing the run's work (Dask workers), by name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.result: Footprint | None = None  # the last reading

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> Meter:
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self._io0 = _io_counters(self.proc_self)
        self._rss0 = _rss_bytes(self.proc_self)
        self._peak = self._rss0
        self._remote0 = dict(self.remote() or {}) if self.remote is not None else {}
        self._rapl = Rapl(self.powercap_root)
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="sdgcube-footprint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _sample(self) -> None:
        n = 0
        while not self._stop.wait(self.interval):
            self._sample_once(rapl=(n := n + 1) % RAPL_EVERY == 0)

    def _sample_once(self, *, rapl: bool) -> None:
        rss = _rss_bytes(self.proc_self)
        with self._lock:
            if rss is not None and (self._peak is None or rss > self._peak):
                self._peak = rss
            if rapl:
                self._rapl.update()

    def read(self, *, product_dir: Path | None = None, aoi_km2: float | None = None,
             tasks: int | None = None) -> Footprint:
        """Stop sampling and return the footprint so far (the meter cannot be read twice)."""
        self.stop()
        self._sample_once(rapl=True)
        wall = time.perf_counter() - self._t0
        cpu = _cpu_seconds() - self._cpu0
        io1 = _io_counters(self.proc_self)
        delta = {k: io1[k] - self._io0[k] for k in ("rchar", "wchar")} if io1 and self._io0 else {}
        remote1 = dict(self.remote() or {}) if self.remote is not None else {}
        both = [name for name in remote1 if name in self._remote0]
        for name in both:  # workers present at start and end: their deltas
            before, after = self._remote0[name], remote1[name]
            cpu += after.cpu_s - before.cpu_s
            for k, a, b in (("rchar", after.rchar, before.rchar), ("wchar", after.wchar, before.wchar)):
                if k in delta and a is not None and b is not None:
                    delta[k] += a - b
        workers_peak = max((remote1[n].max_rss for n in both), default=None)
        if self._rapl.available:
            energy, method = self._rapl.joules, "rapl"
        else:
            energy = model_energy(cpu, self.watts_per_core)
            method = f"model: CPU seconds x {self.watts_per_core:g} W per core (no readable RAPL counters)"
        self.result = Footprint(
            wall_s=wall, cpu_s=cpu, bytes_read=delta.get("rchar"), bytes_written=delta.get("wchar"),
            product_bytes=directory_bytes(product_dir) if product_dir is not None else None,
            peak_memory_bytes=self._peak, start_memory_bytes=self._rss0, max_rss_bytes=_max_rss_bytes(),
            energy_j=energy, energy_method=method, grid_intensity_g_per_kwh=self.grid_intensity,
            co2e_g=co2e_grams(energy, self.grid_intensity), aoi_km2=aoi_km2, cpu_count=os.cpu_count(),
            workers=len(both), workers_peak_memory_bytes=workers_peak, tasks=tasks)
        return self.result


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _io_counters(proc_self: Path) -> dict[str, int] | None:
    try:
        lines = (proc_self / "io").read_text().splitlines()
    except OSError:
        return None  # not Linux, or /proc hidden
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {k.strip(): int(v) for k, v in pairs}


def _rss_bytes(proc_self: Path) -> int | None:
    try:
        return int((proc_self / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _max_rss_bytes() -> int:
    # ru_maxrss is KiB on Linux, bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
