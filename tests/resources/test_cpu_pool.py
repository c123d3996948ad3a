import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.resources.cpu_pool import CpuPool, ReservationTimeout

GiB = 1024**3


def pool(cores=None, memory_limit=None, detected=8, available=64 * GiB):
    return CpuPool(cores, memory_limit, detected_cores=detected, available_memory=available)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


# --- sizes of the pool ---

def test_caps_apply_to_detected_values():
    assert pool(cores=3).usable_cores == 3
    assert pool(cores=100).usable_cores == 8
    assert pool().usable_cores == 8
    assert pool(memory_limit="1GiB").memory_budget == GiB
    assert pool(memory_limit=10 * 2**40).memory_budget == 64 * GiB
    assert pool(memory_limit=None, available=5000).memory_budget == 5000


def test_detects_this_machine_without_overrides():
    real = CpuPool()
    assert 1 <= real.usable_cores
    assert real.memory_budget > 0
    assert real.free_memory == real.memory_budget
    assert real.stats()["usable_cores"] == real.usable_cores


@pytest.mark.parametrize("bad", [0, -1, 1.5, "4", True])
def test_bad_core_cap_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="cores"):
        pool(cores=bad)


def test_bad_memory_cap_is_a_config_error():
    with pytest.raises(ConfigError, match="'lots'"):
        pool(memory_limit="lots")


# --- core leases ---

def test_core_lease_release_is_idempotent_and_a_context_manager():
    p = pool(cores=4)
    lease = p.allocate_cores(3)
    assert lease.cores == 3 and len(set(lease.cpu_ids)) == 3
    assert p.free_cores == 1
    assert p.allocate_cores(2) is None
    lease.release()
    lease.release()
    assert p.free_cores == 4
    with p.allocate_cores(4) as held:
        assert p.free_cores == 0 and held.cores == 4
    assert p.free_cores == 4
    with pytest.raises(ValueError):
        p.allocate_cores(0)


@given(
    cores=st.integers(1, 16),
    ops=st.lists(st.tuples(st.booleans(), st.integers(1, 20)), max_size=40),
)
def test_core_leases_never_exceed_free_capacity(cores, ops):
    p = pool(detected=cores)
    held = []
    for allocate, n in ops:
        free_before = p.free_cores
        assert free_before == cores - sum(lease.cores for lease in held)
        if allocate:
            lease = p.allocate_cores(n)
            if n <= free_before:
                assert lease is not None and lease.cores == n
                in_use = {c for other in held for c in other.cpu_ids}
                assert not in_use & set(lease.cpu_ids)
                held.append(lease)
                assert p.free_cores == free_before - n
            else:
                assert lease is None
                assert p.free_cores == free_before
        elif held:
            lease = held.pop(n % len(held))
            lease.release()
            lease.release()
            assert p.free_cores == free_before + lease.cores
    for lease in held:
        lease.release()
    assert p.free_cores == cores


# --- memory reservations ---

@given(
    budget=st.integers(0, 1000),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 1500)), max_size=40),
)
def test_memory_reservations_respect_the_budget(budget, ops):
    p = pool(memory_limit=budget)
    assert p.memory_budget == budget
    held = []
    for reserve, n in ops:
        reserved = p.reserved_memory
        assert reserved == sum(r.nbytes for r in held)
        # Over budget only ever by one oversized reservation running alone (beside empty ones).
        assert reserved <= budget or len([r for r in held if r.nbytes]) == 1
        if reserve:
            r = p.try_reserve_memory(n)
            if reserved + n <= budget or reserved == 0:
                assert r is not None and r.nbytes == n
                held.append(r)
                assert p.reserved_memory == reserved + n
            else:
                assert r is None
                assert p.reserved_memory == reserved
        elif held:
            r = held.pop(n % len(held))
            r.release()
            r.release()
            assert p.reserved_memory == reserved - r.nbytes
        assert p.free_memory == max(0, budget - p.reserved_memory)
    for r in held:
        r.release()
    assert p.reserved_memory == 0


def test_reserve_blocks_until_another_reservation_releases():
    p = pool(memory_limit=100)
    first = p.reserve_memory(80)
    granted = threading.Event()
    result = {}

    def waiter():
        result["r"] = p.reserve_memory(50)
        granted.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert wait_for(lambda: p.stats()["reservation_waits"] == 1)
    assert not granted.wait(0.1)  # backpressure: still waiting
    assert p.reserved_memory == 80
    assert p.try_reserve_memory(10) is None  # fits, but someone is waiting first
    first.release()
    assert granted.wait(5)
    thread.join(5)
    assert p.reserved_memory == 50
    result["r"].release()
    assert p.reserved_memory == 0


def test_oversized_request_runs_alone_instead_of_deadlocking():
    p = pool(memory_limit=100)
    alone = p.reserve_memory(500, timeout=1)  # nothing else held: granted at once
    assert p.reserved_memory == 500
    assert p.try_reserve_memory(1) is None
    alone.release()
    small = p.reserve_memory(10)
    done = threading.Event()

    def big():
        with p.reserve_memory(500):
            done.set()

    thread = threading.Thread(target=big)
    thread.start()
    assert not done.wait(0.1)  # waits for the small one
    small.release()
    assert done.wait(5)
    thread.join(5)
    assert p.reserved_memory == 0


def test_waiters_are_served_in_arrival_order():
    p = pool(memory_limit=100)
    held = p.reserve_memory(60)
    order = []
    grants = {}

    def want(name, n):
        r = p.reserve_memory(n)
        order.append(name)
        grants[name] = r

    big = threading.Thread(target=want, args=("big", 100))
    big.start()
    assert wait_for(lambda: p.stats()["reservation_waits"] == 1)
    small = threading.Thread(target=want, args=("small", 10))
    small.start()
    assert wait_for(lambda: p.stats()["reservation_waits"] == 2)
    time.sleep(0.05)
    assert order == []  # small would fit now, but big came first
    held.release()
    big.join(5)
    assert order == ["big"]
    time.sleep(0.05)
    assert order == ["big"]  # 100 + 10 does not fit
    grants["big"].release()
    small.join(5)
    assert order == ["big", "small"]
    grants["small"].release()
    assert p.reserved_memory == 0


def test_reserve_times_out_and_leaves_the_queue():
    p = pool(memory_limit=100)
    held = p.reserve_memory(80)
    start = time.monotonic()
    with pytest.raises(ReservationTimeout, match="80 bytes of the 100 bytes budget"):
        p.reserve_memory(50, timeout=0.05)
    assert time.monotonic() - start < 2
    assert p.try_reserve_memory(20) is not None  # the timed-out waiter no longer blocks the queue
    held.release()


def test_threads_hammering_the_budget_never_overcommit():
    budget = 1000
    p = pool(memory_limit=budget)
    violations = []

    def worker(seed):
        for i in range(60):
            n = (seed * 37 + i * 101) % 400 + 1
            with p.reserve_memory(n, timeout=10):
                if p.reserved_memory > budget:
                    violations.append(p.reserved_memory)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert violations == []
    assert p.reserved_memory == 0
    assert p.stats()["peak_reserved_memory"] <= budget


@pytest.mark.parametrize("bad", [-1, 1.5, "10"])
def test_bad_reservation_sizes(bad):
    p = pool(memory_limit=100)
    with pytest.raises(ValueError):
        p.try_reserve_memory(bad)
    with pytest.raises(ValueError):
        p.reserve_memory(bad)
