"""The benchmark's bootstrap interval for gateway p95 / Rasa p95 (bench/stats.py): it says
whether one run can tell the ratio from the 1.25 target."""

import random

from bench.stats import ratio_interval


def _conversations(rng: random.Random, count: int, scale: float = 1.0) -> list[list[float]]:
    return [[scale * rng.uniform(0.05, 0.12) for _ in range(6)] for _ in range(count)]


def test_same_latencies_give_an_interval_around_one() -> None:
    rng = random.Random(1)
    rasa = [_conversations(rng, 150)]
    lo, hi = ratio_interval(rasa, rasa)
    assert lo < 1.0 < hi
    assert hi - lo < 0.3


def test_a_gateway_half_again_as_slow_is_told_apart_from_the_target() -> None:
    rng = random.Random(2)
    rasa = [_conversations(rng, 50) for _ in range(4)]
    gateway = [_conversations(rng, 50, scale=1.5) for _ in range(4)]
    lo, hi = ratio_interval(gateway, rasa)
    assert 1.25 < lo < 1.5 < hi


def test_few_conversations_give_a_wide_interval() -> None:
    rng = random.Random(3)
    few = ratio_interval([_conversations(rng, 8)], [_conversations(rng, 8)])
    many = ratio_interval([_conversations(rng, 400)], [_conversations(rng, 400)])
    assert few[1] - few[0] > 2 * (many[1] - many[0])


def test_rounds_that_disagree_widen_the_interval() -> None:
    """One round where the gateway came out faster and one where it came out far slower (a
    burst, or the machine slowing during it): a run like that cannot claim the narrow interval
    its hundreds of turns would give if they were independent."""
    rng = random.Random(5)
    rasa = [_conversations(rng, 100), _conversations(rng, 100)]
    gateway = [_conversations(rng, 100, scale=0.8), _conversations(rng, 100, scale=1.6)]
    lo, hi = ratio_interval(gateway, rasa)
    pooled_lo, pooled_hi = ratio_interval([gateway[0] + gateway[1]], [rasa[0] + rasa[1]])
    assert lo < 1.0 and hi > 1.5  # each round alone says something else
    assert hi - lo > 2 * (pooled_hi - pooled_lo)


def test_rounds_are_drawn_in_pairs() -> None:
    """The machine slowed both paths alike in round 2: the ratio stays near 1, as it is in
    every round, though the rounds' latencies differ threefold."""
    rng = random.Random(6)
    rasa = [_conversations(rng, 60), _conversations(rng, 60, scale=3)]
    gateway = [_conversations(rng, 60), _conversations(rng, 60, scale=3)]
    lo, hi = ratio_interval(gateway, rasa)
    assert 0.75 < lo < 1.0 < hi < 1.3


def test_the_same_run_gives_the_same_interval() -> None:
    rng = random.Random(4)
    gateway, rasa = [_conversations(rng, 50)], [_conversations(rng, 50)]
    assert ratio_interval(gateway, rasa) == ratio_interval(gateway, rasa)


def test_no_answered_turns_give_no_interval() -> None:
    lo, hi = ratio_interval([[[]]], [[[0.1]]])
    assert lo != lo and hi != hi  # NaN: nothing to say
