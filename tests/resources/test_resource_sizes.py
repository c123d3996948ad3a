import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.resources.sizes import format_size, parse_size

GiB = 1024**3
MiB = 1024**2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2GiB", 2 * GiB),
        ("512MiB", 512 * MiB),
        ("1.5G", int(1.5 * GiB)),
        ("100MB", 100_000_000),
        ("4096", 4096),
        (4096, 4096),
        (0, 0),
        ("0", 0),
        ("1 KiB", 1024),
        ("2gib", 2 * GiB),
        ("3Ki", 3072),
        ("1k", 1024),
        ("1kb", 1000),
        ("7B", 7),
        ("1e3", 1000),
        (" 16 MiB ", 16 * MiB),
        ("1T", 1024**4),
        (2048.0, 2048),
        (None, None),
        ("unlimited", None),
        ("max", None),
    ],
)
def test_parse_size_accepts(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "bad", ["abc", "-1", "12 parsecs", "", "1.2.3", "GiB", "1 2 MiB", True, -5, [1], float("nan"), float("inf")]
)
def test_parse_size_rejects_naming_the_value(bad):
    with pytest.raises(ConfigError) as info:
        parse_size(bad)
    assert repr(bad) in str(info.value)


def test_unknown_unit_lists_known_units():
    with pytest.raises(ConfigError, match="unknown unit 'XB'.*GiB"):
        parse_size("5XB")


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (512 * MiB, "512.00 MiB"),
        (GiB, "1.00 GiB"),
        (2 * GiB, "2.00 GiB"),
        (3 * 1024**4, "3.00 TiB"),
        (None, "unlimited"),
    ],
)
def test_format_size(n, text):
    assert format_size(n) == text


@given(st.integers(min_value=0, max_value=2**62))
def test_plain_integers_round_trip(n):
    assert parse_size(str(n)) == n
    assert parse_size(n) == n


@given(st.integers(min_value=0, max_value=2**40), st.sampled_from([("KiB", 1024), ("MiB", MiB), ("GiB", GiB), ("MB", 10**6)]))
def test_units_multiply(n, unit):
    suffix, factor = unit
    assert parse_size(f"{n}{suffix}") == n * factor


@given(st.integers(min_value=1024, max_value=2**50))
def test_format_size_is_close_to_the_value(n):
    number, unit = format_size(n).split()
    factor = {"KiB": 1024, "MiB": MiB, "GiB": GiB, "TiB": 1024**4, "PiB": 1024**5}[unit]
    assert 1 <= float(number) < 1024 or unit == "PiB"
    assert abs(float(number) * factor - n) <= 0.0051 * factor
