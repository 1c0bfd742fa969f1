"""The binade of an exact value read off its binary form agrees with the log that decided it before."""

import random

from mpmath import mp, mpf

from conformance.judge.scoring import _binade


def by_log(exact: mpf) -> int:
    """The former computation, kept here as the reference."""
    return int(mp.floor(mp.log(abs(exact), 2)))


def exact_values() -> list[mpf]:
    """Values where the two could part: powers of two and their neighbours at 2**-d relative
    distance on both sides (d from 2 to 127: the last is the 128-bit value's own spacing), decimal
    strings of 24 to 40 digits over every float exponent and beyond, both signs."""
    rng = random.Random(20261207)
    values = []
    with mp.workprec(128):
        for k in [*range(-1100, -1000, 7), *range(-160, 160, 3), *range(990, 1030, 5)]:
            power = mpf(2) ** k
            values.append(power)
            for d in (2, 30, 52, 60, 63, 64, 65, 70, 100, 126, 127):
                values += [power * (1 + mpf(2) ** -d), power * (1 - mpf(2) ** -d)]
        for _ in range(3000):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(24, 40)))
            text = f"{rng.choice('123456789')}.{digits}e{rng.randint(-340, 320)}"
            values.append(mpf(text))
    return values + [-v for v in values[::5]]


def test_the_binade_read_off_the_binary_form_is_the_logs():
    with mp.workprec(128):
        values = exact_values()
        assert len(values) > 6000
        mismatches = [(mp.nstr(v, 40), _binade(v), by_log(v)) for v in values if _binade(v) != by_log(v)]
    assert mismatches == []
