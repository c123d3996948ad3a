"""CPU quota and memory limit from Linux control groups (v1 and v2); psutil does not read them.

The process's cgroup is found through ``/proc/self/cgroup`` and ``/proc/self/mountinfo``. Every
function takes ``root``, the directory that stands for ``/``, so tests can point them at a fixture
tree (``root/proc/self/cgroup``, ``root/proc/self/mountinfo``, ``root/sys/fs/cgroup/...``).
A limit set on an ancestor cgroup also binds, so the effective limit is the smallest one found
walking from the process's cgroup up to the hierarchy's mount point. Anything that cannot be read
means "no limit known" (``None``): detection never stops a run.

Per controller, a v1 hierarchy that carries it wins; otherwise the v2 (unified) hierarchy is used,
which is what hybrid hosts (v1 controllers plus an empty cgroup2 mount) need.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

#: v1 reports "no memory limit" as a page-aligned LONG_MAX (9223372036854771712); anything this big is unlimited.
V1_UNLIMITED_THRESHOLD = 1 << 62

PathLike = str | os.PathLike


@dataclass(frozen=True)
class CgroupEntry:
    """One line of ``/proc/self/cgroup``: ``hierarchy-id:controller,list:/path``."""

    hierarchy_id: int
    controllers: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class Mount:
    """The fields of one ``/proc/self/mountinfo`` line that cgroup lookup needs."""

    root: str
    mount_point: str
    fstype: str
    super_options: tuple[str, ...]


@dataclass(frozen=True)
class CgroupDir:
    """Where one controller's files are for this process: version, the cgroup directory, the mount point."""

    version: int
    path: Path
    mount_point: Path


@dataclass(frozen=True)
class CgroupLimits:
    """What the cgroups allow this process. ``None`` means no limit (or none could be read)."""

    cpu_quota: float | None  # in cores: quota / period
    memory_limit: int | None  # bytes
    memory_usage: int | None  # bytes currently charged to the memory cgroup
    cpu_version: int | None
    memory_version: int | None

    @property
    def cpu_quota_cores(self) -> int | None:
        """The quota rounded up to whole cores (1.5 cores of quota can keep 2 workers busy)."""
        return None if self.cpu_quota is None else max(1, math.ceil(self.cpu_quota - 1e-9))


def _decode_mount_field(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo`` octal."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 4 <= len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_proc_cgroup(text: str) -> list[CgroupEntry]:
    """Entries of a ``/proc/<pid>/cgroup`` file; malformed lines are skipped."""
    entries = []
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        try:
            hierarchy_id = int(parts[0])
        except ValueError:
            continue
        controllers = tuple(c for c in parts[1].split(",") if c)
        entries.append(CgroupEntry(hierarchy_id, controllers, parts[2]))
    return entries


def parse_mountinfo(text: str) -> list[Mount]:
    """Mounts of a ``/proc/<pid>/mountinfo`` file; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if sep < 5 or len(fields) < sep + 3:
            continue
        mounts.append(
            Mount(
                root=_decode_mount_field(fields[3]),
                mount_point=_decode_mount_field(fields[4]),
                fstype=fields[sep + 1],
                super_options=tuple(fields[sep + 3].split(",")) if len(fields) > sep + 3 else (),
            )
        )
    return mounts


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _under(root: PathLike, absolute: str) -> Path:
    return Path(root) / absolute.lstrip("/")


def _cgroup_dir(root: PathLike, entry: CgroupEntry, mount: Mount, version: int) -> CgroupDir:
    mount_point = _under(root, mount.mount_point)
    mount_root = mount.root.rstrip("/") or "/"
    path = entry.path
    if mount_root == "/":
        relative = path.lstrip("/")
    elif path == mount_root or path.startswith(mount_root + "/"):
        relative = path[len(mount_root) :].lstrip("/")
    else:  # a cgroup namespace shows the path relative to its own root: the mount is our cgroup
        relative = ""
    directory = mount_point / relative if relative else mount_point
    if not directory.is_dir():
        directory = mount_point
    return CgroupDir(version, directory, mount_point)


def find_cgroup_dir(controller: str, root: PathLike = "/") -> CgroupDir | None:
    """Where ``controller`` ('cpu' or 'memory') keeps this process's files, or None if nowhere."""
    cgroup_text = _read(_under(root, "proc/self/cgroup"))
    mount_text = _read(_under(root, "proc/self/mountinfo"))
    if cgroup_text is None or mount_text is None:
        return None
    entries = parse_proc_cgroup(cgroup_text)
    mounts = parse_mountinfo(mount_text)
    for entry in entries:  # v1: a hierarchy that carries the controller
        if entry.hierarchy_id != 0 and controller in entry.controllers:
            for mount in mounts:
                if mount.fstype == "cgroup" and controller in mount.super_options:
                    return _cgroup_dir(root, entry, mount, 1)
    for entry in entries:  # v2: the unified hierarchy
        if entry.hierarchy_id == 0 and not entry.controllers:
            for mount in mounts:
                if mount.fstype == "cgroup2":
                    return _cgroup_dir(root, entry, mount, 2)
    return None


def _ancestors(cgroup: CgroupDir) -> list[Path]:
    """The cgroup directory and its parents up to (and including) the mount point."""
    out = [cgroup.path]
    current = cgroup.path
    while current != cgroup.mount_point and cgroup.mount_point in current.parents:
        current = current.parent
        out.append(current)
    return out


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _cpu_quota_in(directory: Path, version: int) -> float | None:
    if version == 2:
        text = _read(directory / "cpu.max")
        if text is None:
            return None
        parts = text.split()
        if not parts or parts[0] == "max":
            return None
        try:
            quota = int(parts[0])
            period = int(parts[1]) if len(parts) > 1 else 100_000
        except ValueError:
            return None
    else:
        quota = _int_or_none(_read(directory / "cpu.cfs_quota_us"))
        period = _int_or_none(_read(directory / "cpu.cfs_period_us"))
        if quota is None or period is None:
            return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def _memory_limit_in(directory: Path, version: int) -> int | None:
    if version == 2:
        text = _read(directory / "memory.max")
        if text is None or text.strip() == "max":
            return None
        return _int_or_none(text)
    limit = _int_or_none(_read(directory / "memory.limit_in_bytes"))
    if limit is None or limit < 0 or limit >= V1_UNLIMITED_THRESHOLD:
        return None
    return limit


def _smallest(values) -> float | int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def read_cpu_quota(root: PathLike = "/") -> float | None:
    """The CPU quota in cores (``quota / period``, e.g. 1.5), the smallest up the hierarchy; None if unlimited."""
    cgroup = find_cgroup_dir("cpu", root)
    if cgroup is None:
        return None
    return _smallest(_cpu_quota_in(d, cgroup.version) for d in _ancestors(cgroup))


def read_memory_limit(root: PathLike = "/") -> int | None:
    """The memory limit in bytes, the smallest up the hierarchy; None if unlimited."""
    cgroup = find_cgroup_dir("memory", root)
    if cgroup is None:
        return None
    return _smallest(_memory_limit_in(d, cgroup.version) for d in _ancestors(cgroup))


def read_memory_usage(root: PathLike = "/") -> int | None:
    """Bytes currently charged to this process's memory cgroup (``memory.current`` / ``memory.usage_in_bytes``)."""
    cgroup = find_cgroup_dir("memory", root)
    if cgroup is None:
        return None
    name = "memory.current" if cgroup.version == 2 else "memory.usage_in_bytes"
    return _int_or_none(_read(cgroup.path / name))


def detect_limits(root: PathLike = "/") -> CgroupLimits:
    """CPU quota, memory limit and usage of this process's cgroups."""
    cpu = find_cgroup_dir("cpu", root)
    memory = find_cgroup_dir("memory", root)
    return CgroupLimits(
        cpu_quota=read_cpu_quota(root),
        memory_limit=read_memory_limit(root),
        memory_usage=read_memory_usage(root),
        cpu_version=cpu.version if cpu else None,
        memory_version=memory.version if memory else None,
    )


def affinity_cores() -> int:
    """CPUs this process may run on (``sched_getaffinity``; ``os.cpu_count()`` where that does not exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def usable_cores(root: PathLike = "/", affinity: int | None = None) -> int:
    """Cores this process can keep busy: the affinity set, capped by the cgroup quota rounded up."""
    cores = affinity_cores() if affinity is None else max(1, int(affinity))
    quota = read_cpu_quota(root)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return cores
