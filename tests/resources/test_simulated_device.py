import gc
import pickle
import threading

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.resources.simulated import SimulatedDevice, active_simulated_device, warm_up

GiB = 1024**3

# The first op under any dispatch mode imports torch._dynamo (about a second); pay it here, not
# inside a hypothesis example where it would trip the deadline.
warm_up()


def u8(n):
    return torch.empty(n, dtype=torch.uint8)


def test_oom_fires_exactly_when_live_bytes_exceed_the_budget():
    dev = SimulatedDevice("sim:small0", 1000)
    with dev.activate():
        a = u8(600)
        b = u8(400)  # exactly the budget: fine
        assert dev.live_bytes == 1000
        with pytest.raises(torch.OutOfMemoryError) as info:
            u8(1)
        assert dev.live_bytes == 1000
        del a
        assert dev.live_bytes == 400
        c = u8(600)
        assert dev.live_bytes == 1000
        del b, c
    assert str(info.value).startswith("CUDA out of memory. Tried to allocate 1 bytes.")
    assert dev.oom_count == 1
    assert dev.peak_bytes == 1000


@given(
    budget=st.integers(1, 4000),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 1500)), min_size=1, max_size=20),
)
def test_live_bytes_follow_allocations_and_frees(budget, steps):
    dev = SimulatedDevice("sim:prop", budget)
    held = []
    with dev.activate():
        for allocate, n in steps:
            live = sum(t.numel() for t in held)
            assert dev.live_bytes == live
            if allocate:
                if live + n > budget:
                    with pytest.raises(torch.OutOfMemoryError):
                        u8(n)
                else:
                    held.append(u8(n))
            elif held:
                held.pop(n % len(held))
        assert dev.peak_bytes <= budget
    assert dev.live_bytes == 0


def test_error_type_and_message_follow_cuda():
    dev = SimulatedDevice("sim:small0", "1GiB")
    with pytest.raises(torch.OutOfMemoryError) as info:
        with dev.activate(extra_bytes=2 * GiB):
            pass
    err = info.value
    assert isinstance(err, RuntimeError)
    message = str(err)
    assert message.startswith("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 1.00 GiB")
    assert "of which 1.00 GiB is free" in message
    assert "simulated device 'sim:small0'" in message
    assert dev.live_bytes == 0 and active_simulated_device() is None


def test_views_share_storage_and_are_counted_once():
    dev = SimulatedDevice("sim:v", 1000)
    with dev.activate():
        a = u8(800)
        views = [a[100:200], a.view(8, 100), a.reshape(4, 200).t(), a.view(8, 100)[2], a.contiguous(), a.detach()]
        assert dev.live_bytes == 800
        del a
        assert dev.live_bytes == 800  # the views keep the storage alive
        views.clear()
        assert dev.live_bytes == 0


def test_new_results_count_and_inputs_from_before_do_not():
    outside = torch.zeros(100, dtype=torch.float32)  # 400 bytes, allocated before activation
    dev = SimulatedDevice("sim:ops", 1000)
    with dev.activate():
        outside.add_(1)  # in place on an untracked tensor: nothing new
        view = outside[:10]
        assert dev.live_bytes == 0
        doubled = outside * 2  # a new 400-byte result
        assert dev.live_bytes == 400
        lifted = torch.tensor([1, 2, 3], dtype=torch.int64)  # made outside the dispatcher: 24 bytes
        assert dev.live_bytes == 424
        out = u8(0)
        torch.add(u8(10), 1, out=out)  # out= grows a tracked storage to 10 bytes
        assert dev.live_bytes == 434
        with pytest.raises(torch.OutOfMemoryError, match="Tried to allocate 800 bytes"):
            outside.repeat(2)
        assert dev.live_bytes == 434
        del doubled, lifted, out, view
        assert dev.live_bytes == 0


def test_extra_bytes_are_counted():
    dev = SimulatedDevice("sim:x", 1000)
    with dev.activate(extra_bytes=300) as act:
        assert dev.live_bytes == 300 and act.live_bytes == 300
        keep = u8(700)
        with pytest.raises(torch.OutOfMemoryError):
            u8(1)
        del keep
    with pytest.raises(torch.OutOfMemoryError, match="Tried to allocate 1001 bytes"):
        with dev.activate(extra_bytes=1001):
            pass
    with dev.activate(extra_bytes=1000):
        with pytest.raises(torch.OutOfMemoryError):
            u8(1)
    assert dev.live_bytes == 0
    with pytest.raises(ValueError):
        with dev.activate(extra_bytes=-1):
            pass


def test_ending_an_activation_stops_counting_its_tensors():
    dev = SimulatedDevice("sim:end", 1000)
    with dev.activate():
        kept = u8(900)
    assert dev.live_bytes == 0 and dev.peak_bytes == 900
    with dev.activate():
        other = u8(1000)  # the budget is whole again
    del kept, other
    gc.collect()
    assert dev.live_bytes == 0


def test_an_exception_inside_the_block_still_cleans_up():
    dev = SimulatedDevice("sim:err", 1000)
    with pytest.raises(KeyError):
        with dev.activate(extra_bytes=10):
            x = u8(100)
            raise KeyError("boom")
    assert dev.live_bytes == 0 and active_simulated_device() is None
    with dev.activate():
        assert active_simulated_device() is dev
        y = u8(1000)
    del x, y


def test_activations_do_not_nest_on_one_thread():
    dev = SimulatedDevice("sim:n", 1000)
    with dev.activate():
        with pytest.raises(RuntimeError, match="do not nest"):
            with dev.activate():
                pass
    assert dev.live_bytes == 0


def test_threads_share_the_device_budget():
    dev = SimulatedDevice("sim:t", 1000)
    first_holds = threading.Event()
    second_done = threading.Event()
    errors = []

    def first():
        with dev.activate():
            keep = u8(700)
            first_holds.set()
            second_done.wait(5)
            del keep

    def second():
        first_holds.wait(5)
        with dev.activate():
            try:
                u8(400)
            except torch.OutOfMemoryError as exc:
                errors.append(exc)
            ok = u8(300)
            del ok
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(errors) == 1 and "of which 300 bytes is free" in str(errors[0])
    assert dev.live_bytes == 0 and dev.peak_bytes == 1000


def test_pickles_with_identity_and_fresh_counters():
    dev = SimulatedDevice("sim:p", "2MiB", index=3)
    with dev.activate():
        a = u8(1000)
        copy = pickle.loads(pickle.dumps(dev))  # even while active
        del a
    assert dev.peak_bytes == 1000 and dev.activations == 1 and dev.busy_seconds() > 0
    assert (copy.name, copy.budget_bytes, copy.index) == ("sim:p", 2 * 1024**2, 3)
    assert (copy.live_bytes, copy.peak_bytes, copy.oom_count, copy.activations, copy.busy_seconds()) == (0, 0, 0, 0, 0.0)
    with copy.activate():
        b = u8(2 * 1024**2)
        with pytest.raises(torch.OutOfMemoryError, match="GPU 3 has"):
            u8(1)
        del b


def test_budget_must_be_positive():
    with pytest.raises(ConfigError, match="positive memory budget"):
        SimulatedDevice("sim:z", 0)
    with pytest.raises(ConfigError):
        SimulatedDevice("sim:z", "much")
