"""The benchmark's latency by step of the conversation (bench/stats.py `by_step`,
bench/report.py `step_table`): where a path's extra time goes, by what the texter sends."""

from bench.load import Conversation, Phase, Turn
from bench.personas import Persona
from bench.report import step_table
from bench.stats import STEPS, by_step


def _phase(path: str, latencies_by_step: list[list[float]], *, failed_at: int = -1) -> Phase:
    phase = Phase(path, 2)
    persona = Persona("REF", "+15555550100", None, "00000", 0)  # type: ignore[arg-type]
    for n, latencies in enumerate(latencies_by_step):
        conv = Conversation(path, persona, f"sender-{n}")
        for index, latency in enumerate(latencies):
            status = 0 if index == failed_at else 200
            conv.turns.append(Turn(path, conv.sender, index, "text", 0.0, latency, status))
        phase.conversations.append(conv)
    return phase


def test_turns_are_grouped_by_their_step_and_failures_left_out() -> None:
    phase = _phase("gateway", [[0.1, 0.2, 0.3], [0.3, 0.4, 0.9]], failed_at=2)
    steps = by_step(phase)
    assert len(steps) == len(STEPS)
    assert [s["turns"] for s in steps] == [2, 2, 0, 0, 0, 0]
    assert abs(steps[0]["p50"] - 0.2) < 1e-9
    assert abs(steps[1]["p95"] - (0.2 + 0.95 * 0.2)) < 1e-9


def test_the_table_shows_the_gateways_excess_at_each_step() -> None:
    rasa = by_step(_phase("rasa", [[0.050, 0.060]] * 20))
    gateway = by_step(_phase("gateway", [[0.090, 0.061]] * 20))
    run = {"label": "50", "concurrency": 50, "rasa": {"by_step": rasa},
           "gateway": {"by_step": gateway}}  # fmt: skip
    rows = step_table([run])
    assert rows[2] == "| 50 | hello | 20, 20 | 50 / 50 | 90 / 90 | 40 |"
    assert rows[3] == "| 50 | date of birth | 20, 20 | 60 / 60 | 61 / 61 | 1 |"
    assert len(rows) == 2 + len(STEPS)  # steps nobody reached are shown, with no figures
    assert rows[-1].endswith("| - / - | - / - | - |")


def test_a_run_recorded_before_steps_were_kept_is_left_out() -> None:
    run = {"label": "5", "concurrency": 5, "rasa": {}, "gateway": {}}
    assert len(step_table([run])) == 2
