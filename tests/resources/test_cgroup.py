import os
from pathlib import Path

import pytest

from harness.resources import cgroup
from harness.resources.cpu_pool import CpuPool

FIXTURES = Path(__file__).parent / "fixtures"
GiB = 1024**3
MiB = 1024**2


def root(name):
    return FIXTURES / name


@pytest.mark.parametrize(
    "name, version, quota, limit, usage",
    [
        ("cgroup_v2_limited", 2, 1.5, 2 * GiB, 512 * MiB),
        ("cgroup_v2_parent_limit", 2, 0.5, 1 * GiB, 1000),
        ("cgroup_v2_unlimited", 2, None, None, 123456),
        ("cgroup_v1_limited", 1, 2.0, 512 * MiB, 128 * MiB),
        ("cgroup_v1_unlimited", 1, None, None, 4096),
    ],
)
def test_limits_from_fixture_trees(name, version, quota, limit, usage):
    limits = cgroup.detect_limits(root(name))
    assert limits.cpu_version == version
    assert limits.memory_version == version
    assert limits.cpu_quota == quota
    assert limits.memory_limit == limit
    assert limits.memory_usage == usage
    assert cgroup.read_cpu_quota(root(name)) == quota
    assert cgroup.read_memory_limit(root(name)) == limit


def test_no_cgroup_information_means_no_limits():
    limits = cgroup.detect_limits(root("no_cgroup"))
    assert (limits.cpu_quota, limits.memory_limit, limits.memory_usage) == (None, None, None)
    assert cgroup.find_cgroup_dir("memory", root("no_cgroup")) is None
    assert cgroup.usable_cores(root("no_cgroup"), affinity=6) == 6


def test_v1_container_mount_root_resolves_to_the_mount_point():
    found = cgroup.find_cgroup_dir("memory", root("cgroup_v1_limited"))
    assert found.version == 1
    assert found.path == root("cgroup_v1_limited") / "sys/fs/cgroup/memory"
    cpu = cgroup.find_cgroup_dir("cpu", root("cgroup_v1_limited"))
    assert cpu.path == root("cgroup_v1_limited") / "sys/fs/cgroup/cpu,cpuacct"


def test_hybrid_host_prefers_v1_controllers_and_walks_to_own_cgroup():
    found = cgroup.find_cgroup_dir("memory", root("cgroup_v1_unlimited"))
    assert found.version == 1
    assert found.path == root("cgroup_v1_unlimited") / "sys/fs/cgroup/memory/user.slice/job"


def test_v2_own_cgroup_directory():
    found = cgroup.find_cgroup_dir("cpu", root("cgroup_v2_limited"))
    assert found.version == 2
    assert found.path == root("cgroup_v2_limited") / "sys/fs/cgroup/system.slice/job.service"


@pytest.mark.parametrize(
    "name, affinity, expected",
    [
        ("cgroup_v2_limited", 8, 2),  # 1.5 cores of quota keep 2 cores busy
        ("cgroup_v2_limited", 1, 1),
        ("cgroup_v2_parent_limit", 8, 1),
        ("cgroup_v2_unlimited", 8, 8),
        ("cgroup_v1_limited", 8, 2),
        ("cgroup_v1_unlimited", 3, 3),
    ],
)
def test_usable_cores_is_affinity_capped_by_quota(name, affinity, expected):
    assert cgroup.usable_cores(root(name), affinity=affinity) == expected


def test_usable_cores_defaults_to_this_process_affinity():
    assert cgroup.usable_cores(root("cgroup_v2_unlimited")) == len(os.sched_getaffinity(0))


def test_parse_proc_cgroup_and_mountinfo():
    entries = cgroup.parse_proc_cgroup("4:cpu,cpuacct:/a\n0::/b\ngarbage\nx:y:z\n")
    assert entries == [
        cgroup.CgroupEntry(4, ("cpu", "cpuacct"), "/a"),
        cgroup.CgroupEntry(0, (), "/b"),
    ]
    mounts = cgroup.parse_mountinfo(
        "31 23 0:28 / /sys/fs/cgroup/with\\040space rw,relatime shared:1 master:2 - cgroup cgroup rw,memory\n"
        "too short\n"
    )
    assert mounts == [cgroup.Mount("/", "/sys/fs/cgroup/with space", "cgroup", ("rw", "memory"))]


def test_cpu_pool_uses_cgroup_limits():
    pool = CpuPool(cgroup_root=root("cgroup_v1_limited"), available_memory=64 * GiB)
    assert pool.usable_cores == min(len(os.sched_getaffinity(0)), 2)
    assert pool.memory_budget == 512 * MiB - 128 * MiB  # room left under the limit
    assert CpuPool(cgroup_root=root("cgroup_v1_limited"), available_memory=100 * MiB).memory_budget == 100 * MiB
    assert CpuPool(cgroup_root=root("cgroup_v2_unlimited"), available_memory=5 * GiB).memory_budget == 5 * GiB
    capped = CpuPool(memory_limit="1GiB", cgroup_root=root("cgroup_v2_limited"), available_memory=64 * GiB)
    assert capped.memory_budget == 1 * GiB
