"""What `make bench` runs, from its command line (bench/plan.py `Plan`): a small N runs longer
so that its p95 rests on enough turns, the no-pause run comes last, and there are accounts
for every conversation any slot may start."""

from bench.plan import Plan, parse_args


def test_a_small_n_runs_long_enough_for_its_minimum_of_turns() -> None:
    plan = Plan.of(parse_args(["--concurrency", "1,50", "--seconds", "120"]))
    # a person texts every 3.05 s on average: 80 turns at N=1 take 244 s
    assert plan.seconds_for(1) == 244.0
    assert plan.seconds_for(50) == 120.0


def test_the_no_pause_run_comes_after_the_paced_ones() -> None:
    plan = Plan.of(parse_args(["--concurrency", "5,20", "--capacity-n", "20"]))
    runs = plan.runs()
    assert [label for _, _, label, _ in runs] == ["5", "20", "20, no pause"]
    assert runs[0][1] == (1.5, 4.5) and runs[-1][1] == (0.0, 0.05)
    assert Plan.of(parse_args(["--concurrency", "5", "--capacity-n", "0"])).runs()[-1][2] == "5"


def test_every_conversation_a_run_may_start_has_an_account() -> None:
    few = Plan.of(parse_args(["--concurrency", "1", "--capacity-n", "0", "--profile-n", "0"]))
    more = Plan.of(parse_args(["--concurrency", "1,50", "--capacity-n", "0", "--profile-n", "0"]))
    # at N=50 each of the 50 slots, on both paths, starts a new person after each conversation
    assert more.accounts_needed() - few.accounts_needed() == 50 * more.per_slot(120.0) * 2
    assert more.per_slot(120.0) >= 120 / (5 * 1.5)  # a conversation is five messages at least
