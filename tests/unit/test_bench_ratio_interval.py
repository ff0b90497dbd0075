"""The benchmark's bootstrap interval for gateway p95 / Rasa p95 (bench/load.py): it says
whether one run can tell the ratio from the 1.25 target."""

import random

from bench.load import ratio_interval


def _conversations(rng: random.Random, count: int, scale: float = 1.0) -> list[list[float]]:
    return [[scale * rng.uniform(0.05, 0.12) for _ in range(6)] for _ in range(count)]


def test_same_latencies_give_an_interval_around_one() -> None:
    rng = random.Random(1)
    rasa = _conversations(rng, 150)
    lo, hi = ratio_interval(rasa, rasa)
    assert lo < 1.0 < hi
    assert hi - lo < 0.3


def test_a_gateway_half_again_as_slow_is_told_apart_from_the_target() -> None:
    rng = random.Random(2)
    rasa = _conversations(rng, 200)
    gateway = _conversations(rng, 200, scale=1.5)
    lo, hi = ratio_interval(gateway, rasa)
    assert 1.25 < lo < 1.5 < hi


def test_few_conversations_give_a_wide_interval() -> None:
    rng = random.Random(3)
    few = ratio_interval(_conversations(rng, 8), _conversations(rng, 8))
    many = ratio_interval(_conversations(rng, 400), _conversations(rng, 400))
    assert few[1] - few[0] > 2 * (many[1] - many[0])


def test_the_same_run_gives_the_same_interval() -> None:
    rng = random.Random(4)
    gateway, rasa = _conversations(rng, 50), _conversations(rng, 50)
    assert ratio_interval(gateway, rasa) == ratio_interval(gateway, rasa)


def test_no_answered_turns_give_no_interval() -> None:
    lo, hi = ratio_interval([[]], [[0.1]])
    assert lo != lo and hi != hi  # NaN: nothing to say
