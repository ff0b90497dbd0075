"""bench/RESULTS.md from one run's numbers. The block between the NOTES markers (the
profile findings and the before/after of a fix, written by hand) is kept across runs."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from bench.stats import INTERVAL_LEVEL, RESAMPLES, STEPS

NOTES_BEGIN, NOTES_END = "<!-- BEGIN NOTES (kept across runs) -->", "<!-- END NOTES -->"
TARGET_RATIO = 1.25
TARGET_P95_AT_20 = 0.300


def ms(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    return f"{seconds * 1000:.0f}"


def mib(n: int | None) -> str:
    return f"{(n or 0) / 1024 / 1024:.0f}"


def _keep_notes(path: Path) -> str:
    if not path.exists():
        return f"{NOTES_BEGIN}\n{NOTES_END}"
    found = re.search(
        re.escape(NOTES_BEGIN) + r".*?" + re.escape(NOTES_END), path.read_text(), re.S
    )
    return found.group(0) if found else f"{NOTES_BEGIN}\n{NOTES_END}"


def _n(run: dict[str, Any]) -> str:
    return str(run.get("label", run["concurrency"]))


def latency_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| N | path | turns | errors | no reply | p50 ms | p95 ms | p99 ms | max ms | turns/s "
        "| conversations verified |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        for path in ("rasa", "gateway"):
            s = run[path]
            label = "Rasa REST" if path == "rasa" else "gateway SMS"
            lines.append(
                f"| {_n(run)} | {label} | {s['turns']} | {s['errors']} | {s['empty']} "
                f"| {ms(s['p50'])} | {ms(s['p95'])} | {ms(s['p99'])} | {ms(s['max'])} "
                f"| {s['throughput']:.1f} | {s['verified']}/{s['conversations']} |"
            )
    return lines


def interval(run: dict[str, Any]) -> str:
    """The run's bootstrap interval of its p95 ratio, as "lo-hi" ("nan-nan" when none)."""
    lo, hi = run.get("ratio_p95_interval") or (math.nan, math.nan)
    return f"{lo:.2f}-{hi:.2f}"


def ratio_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"| N | gateway p95 ms | Rasa p95 ms | ratio | {INTERVAL_LEVEL}% of resamples "
        "| ratio <= 1.25 "
        "| gateway p95 < 300 ms | load avg (before, after) |",
        "|---:|---:|---:|---:|---|---|---|---|",
    ]
    for run in runs:
        ratio = run["ratio_p95"]
        p95 = run["gateway"]["p95"]
        lines.append(
            f"| {_n(run)} | {ms(p95)} | {ms(run['rasa']['p95'])} | {ratio:.2f} "
            f"| {interval(run)} | {'yes' if ratio <= TARGET_RATIO else 'NO'} "
            f"| {'yes' if p95 < TARGET_P95_AT_20 else 'no'} "
            f"| {run['load_average']:.2f}, {run['load_average_after']:.2f} |"
        )
    return lines


def cpu_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| N | path | webhook app (gunicorn) ms | Rasa ms | action server ms | all three ms "
        "| load generator ms |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for path in ("rasa", "gateway"):
            cpu = run[path].get("cpu_ms_per_turn")
            if not cpu:
                continue
            waited = run[path].get("core_wait_ms_per_turn") or {}
            label = "Rasa REST" if path == "rasa" else "gateway SMS"
            names = ("gateway", "rasa", "actions")
            total = sum(cpu.get(name, 0.0) for name in names)
            total_waited = sum(waited.get(name, 0.0) for name in names)
            lines.append(
                f"| {_n(run)} | {label} | "
                + " | ".join(_cpu_cell(cpu, waited, name) for name in names)
                + (f" | {total:.1f} ({total_waited:.1f})" if waited else f" | {total:.1f}")
                + f" | {_cpu_cell(cpu, waited, 'load') if 'load' in cpu else '-'} |"
            )
    return lines


def step_table(runs: list[dict[str, Any]]) -> list[str]:
    """p50 / p95 of each step of the script, both paths side by side, and the gateway's
    excess at the p95."""
    lines = [
        "| N | step | turns (Rasa, gateway) | Rasa p50 / p95 ms | gateway p50 / p95 ms "
        "| gateway - Rasa at p95 ms |",
        "|---:|---|---|---|---|---:|",
    ]
    for run in runs:
        rasa, gateway = run["rasa"].get("by_step"), run["gateway"].get("by_step")
        if not rasa or not gateway:
            continue
        for name, r, g in zip(STEPS, rasa, gateway, strict=False):
            lines.append(
                f"| {_n(run)} | {name} | {r['turns']}, {g['turns']} "
                f"| {ms(r['p50'])} / {ms(r['p95'])} | {ms(g['p50'])} / {ms(g['p95'])} "
                f"| {ms(g['p95'] - r['p95'])} |"
            )
    return lines


def gateway_http_section(h: dict[str, Any] | None) -> list[str]:
    """The gateway over HTTP under gunicorn with Rasa stubbed (bench/gateway_http.py)."""
    if not h:
        return []
    return [
        "",
        "## The gateway alone over HTTP (Rasa stubbed, under gunicorn)",
        "",
        "`bench/gateway_http.py`: the webhook app as in the runs above (gunicorn "
        f"{h['workers']} x {h['threads']}, {h['database']} app database, rate-limit counts in "
        f"{h['rate_limits']}), N={h['concurrency']} conversations of signed SMS at the same "
        "pace for "
        f"{h['seconds']:.0f} s, with an instant stand-in for Rasa and the action server: "
        "the gateway's own latency over HTTP, nothing else of ours on the cores.",
        "",
        "| N | turns | errors | p50 ms | p95 ms | p99 ms | max ms | CPU ms a turn "
        "| waiting for a core ms a turn |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {h['concurrency']} | {h['turns']} | {h['errors']} | {h['p50'] * 1000:.1f} "
        f"| {h['p95'] * 1000:.1f} | {h['p99'] * 1000:.1f} | {h['max'] * 1000:.1f} "
        f"| {h['cpu_ms_per_turn']:.1f} | {h['core_wait_ms_per_turn']:.1f} |",
    ]


def _cpu_cell(cpu: dict[str, float], waited: dict[str, float], name: str) -> str:
    """CPU ms a turn, and the ms its threads waited for a core (when measured)."""
    if name not in waited:
        return f"{cpu.get(name, 0.0):.1f}"
    return f"{cpu.get(name, 0.0):.1f} ({waited[name]:.1f})"


def ledger_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| N | SMS sent | Twilio retries (same answer) | inbound rows | missing | duplicated "
        "| unanswered | two reply sets | TwiML = stored | late (outbox) | verdict |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for run in runs:
        g = run["ledger"]
        lines.append(
            f"| {_n(run)} | {g['sent']} | {g['retries']} ({g['retries_answered_alike']}) "
            f"| {g['inbound_rows']} | {g['missing']} | {g['duplicated']} | {g['unanswered']} "
            f"| {g['reply_sets_duplicated']} "
            f"| {'yes' if not g['twiml_mismatch'] else 'NO: ' + str(g['twiml_mismatch'])} "
            f"| {g['late']} | {'clean' if g['clean'] else 'NOT CLEAN'} |"
        )
    return lines


def _longer(r: dict[str, Any]) -> str:
    """The small N run longer (--min-turns), if any."""
    base = r["settings"]["seconds"]
    longer = [run for run in r["runs"] if run.get("seconds", base) > base]
    if not longer:
        return ""
    each = ", ".join(f"N={_n(run)} {run['seconds']:.0f} s" for run in longer)
    turns = r["settings"].get("min_turns")
    return f" ({each}: about {turns} turns a path)" if turns else f" ({each})"


def _rasa_setup(s: dict[str, Any]) -> str:
    count = s.get("rasa_instances", 1)
    if count == 1:
        return "one Rasa server (1 worker)"
    return (
        f"{count} Rasa servers (1 worker each; one model, one tracker store, lock store "
        f"{s.get('lock_store', 'memory')}), each conversation on one of them by the gateway's "
        f"rendezvous hash of its id, on both paths alike (the shape deploy/ runs)"
    )


def write(path: Path, r: dict[str, Any]) -> None:
    m, s = r["machine"], r["settings"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); the section between the NOTES markers is by hand.",
        "",
        f"- **Date**: {r['started_at']} to {r['finished_at']} (UTC)"
        + (f"; {r['label']}" if r.get("label") else ""),
        f"- **Command**: `{r['command']}`",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; {m['os']}",
        f"- **Python**: app {m['app_python']}; Rasa {m['rasa']} on Python {m['rasa_python']}",
        f"- **Load average** (1 min): {r['load_average']['before']} before the run, "
        f"{r['load_average'].get('after', '-')} at its end (other jobs share these 2 cores)",
        f"- **Set-up**: {_rasa_setup(s)}, one action server, the webhook app under "
        f"gunicorn {s['gunicorn']}; app database {s['database']}, tracker store "
        f"{s['tracker_store']}, rate-limit counts {s.get('rate_limits', 'memory')}, all on "
        f"loopback",
        f"- **Load**: N concurrent conversations, each a new person (own phone, own account) "
        f"texting hello, date of birth, ZIP, balance, why, payment plan, with "
        f"{s['think'][0]}-{s['think'][1]} s between messages; each slot starts a new "
        f"conversation when one ends, for {s['seconds']:.0f} s per path{_longer(r)}. For each "
        f"N, Rasa's "
        f"REST channel (sender `bench-...`, the gateway's metadata) and the same scripts as "
        f"signed SMS through `POST /twilio/sms`, at the same arrival rate, in "
        f"{s.get('rounds', 1)} rounds per path that alternate (Rasa, gateway, gateway, Rasa, "
        f"...) so that a change in the machine's other load falls on both. "
        f"{s['retry_rate'] * 100:.0f}% of the SMS are sent a second time with the same "
        f'MessageSid (a Twilio retry), not counted in the latencies. The "no pause" run '
        f"sends each next message as soon as the reply arrives: the most turns/s the stack "
        f"gives (its latency is queueing, not a target).",
        "",
        "## Turn latency and throughput",
        "",
        *latency_table(r["runs"]),
        "",
        "## Gateway over Rasa alone (p95)",
        "",
        f"Targets: the gateway's p95 at most {TARGET_RATIO} x Rasa's; under 300 ms at N=20. "
        f'A p95 of a few hundred turns moves from run to run: "{INTERVAL_LEVEL}% of '
        f'resamples" is where the ratio fell in {INTERVAL_LEVEL}% of {RESAMPLES:,} bootstrap '
        "resamples of this run: its rounds drawn in pairs (round k of both paths ran the same "
        "scripts side by side, so a slow stretch of the shared machine or a burst counts "
        "once), then each drawn round's conversations. An interval that straddles 1.25 means "
        "this run cannot tell; with few rounds it is wide, and only repeated runs narrow it.",
        "",
        *ratio_table(r["runs"]),
        "",
        "## CPU a turn, by process",
        "",
        "CPU time (user + system, from /proc) each process used during the path's rounds, "
        "divided by the turns answered; in brackets, how long its threads were ready to run "
        "but waited for a core (/proc/<pid>/task/<tid>/schedstat), on the same scale. On the "
        "Rasa path the gateway is idle: its column there is its idle cost (health checks, "
        "timers). The load generator is this benchmark's own process (it sends the messages "
        "and times the replies on the same two cores).",
        "",
        *cpu_table(r["runs"]),
        "",
        "## Latency by step of the conversation",
        "",
        "The same turns as above, by what the texter sends: the first text opens a "
        "conversation (and its first reply carries the opt-out line), the ZIP completes "
        "verification, the later ones read the account.",
        "",
        *step_table(r["runs"]),
        "",
        "## Exactly-once (app database after each gateway run)",
        "",
        "Every SMS sent must be one inbound row (its MessageSid once), answered by one set of "
        "replies, and the TwiML the sender got must be exactly the replies stored as sent. "
        '"Late" turns passed the gateway\'s 5 s deadline: their replies were queued for the '
        "outbox instead (the benchmark runs no outbox worker).",
        "",
        *ledger_table(r["runs"]),
        "",
    ]
    problems = [p for run in r["runs"] for p in run["ledger"].get("problems", [])]
    if problems:
        lines += ["Problems seen:", "", *[f"- `{p}`" for p in problems[:20]], ""]
    cold = r.get("cold_start", {})
    mem = r.get("memory", {})
    names = {
        "actions": "action server",
        "rasa": "Rasa server" + ("s (all)" if s.get("rasa_instances", 1) > 1 else ""),
        "gateway": "webhook app (gunicorn)",
    }
    lines += [
        "## Cold start and memory",
        "",
        "| process | spawn to ready | ready URL | RSS idle MiB | RSS peak MiB |",
        "|---|---:|---|---:|---:|",
    ]
    for key, label in names.items():
        c = cold.get(key, {})
        lines.append(
            f"| {label} | {c.get('seconds', '-')} s | `/{c.get('url', '')}` "
            f"| {mib(mem.get('idle', {}).get(key))} | {mib(mem.get('peak', {}).get(key))} |"
        )
    if mem.get("workers_idle"):
        lines += [
            "",
            "The webhook app's figure is the gunicorn master and its workers together; each "
            "worker: idle "
            + ", ".join(mib(w) for w in mem["workers_idle"])
            + " MiB, peak "
            + ", ".join(mib(w) for w in mem.get("workers_peak", {}).values())
            + " MiB. "
            "The gateway's cold start is measured once Rasa and the action server answer "
            "(its /readyz asks both).",
        ]
    alone = r.get("gateway_only")
    if alone:
        lines += [
            "",
            "## The gateway alone (Rasa stubbed)",
            "",
            "`bench/gateway_only.py`: the whole signed `POST /twilio/sms` request through Flask "
            "and the gateway over a fresh SQLite app database, in one process, with an instant "
            "stand-in for Rasa: what the gateway itself costs a turn.",
            "",
            "| threads | turns | p50 ms | p95 ms | p99 ms | CPU ms a turn | turns/s |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *[
                f"| {a['threads']} | {a['turns']} | {a['p50'] * 1000:.1f} | {a['p95'] * 1000:.1f} "
                f"| {a['p99'] * 1000:.1f} | {a['cpu_per_turn'] * 1000:.1f} "
                f"| {a['throughput']:.0f} |"
                for a in alone
            ],
        ]
    lines += gateway_http_section(r.get("gateway_http"))
    train = r.get("training")
    lines += ["", "## Training", ""]
    if train:
        lines.append(
            f"`rasa train` from scratch (empty cache) took **{train['seconds']:.0f} s** "
            f"({'ok' if train['ok'] else 'FAILED'}, model {train['model_mb']} MB)."
        )
    else:
        lines.append("Not timed in this run (`--train`).")
    prof = r.get("profile")
    if prof:
        lines += [
            "",
            f"## Profile of the gateway (py-spy, N={prof['concurrency']}, {prof['seconds']:.0f} s, "
            f"both workers)",
            "",
            f"{prof['samples']} CPU samples at 100 Hz "
            f"({prof['samples'] / 100 / prof['seconds']:.2f} CPU-seconds per second of load, "
            f"both workers); p95 during the profiled run "
            f"{ms(prof['p95'])} ms. Share of the CPU samples with each part on the stack:",
            "",
            "| part | share of CPU |",
            "|---|---:|",
            *[f"| {label} | {share:.1f}% |" for label, share in prof["parts"]],
            "",
            "Our functions, inclusive:",
            "",
            "| function | share |",
            "|---|---:|",
            *[f"| `{name}` | {share:.1f}% |" for name, share in prof["ours"]],
            "",
            "Hottest leaves (self time):",
            "",
            "| function | share |",
            "|---|---:|",
            *[f"| `{name}` | {share:.1f}% |" for name, share in prof["leaf"]],
            "",
            f"Raw stacks: `{prof['files']}/` (py-spy raw format).",
        ]
        for name, other in prof.get("elsewhere", {}).items():
            label = {"rasa": "the Rasa server", "actions": "the action server"}.get(name, name)
            lines += [
                "",
                f"Meanwhile in {label} ({other['samples']} CPU samples, "
                f"{other['samples'] / 100 / prof['seconds']:.2f} CPU-seconds per second), "
                "hottest leaves:",
                "",
                "| function | share |",
                "|---|---:|",
                *[f"| `{fn}` | {share:.1f}% |" for fn, share in other["leaf"]],
            ]
    lines += ["", "## Notes, profile findings and fixes", "", _keep_notes(path), ""]
    path.write_text("\n".join(lines))


def console_summary(r: dict[str, Any]) -> str:
    out = ["", "Turn latency (ms) and throughput:"]
    out.append(
        f"  {'N':>3}  {'path':8} {'turns':>6} {'err':>4} {'p50':>6} {'p95':>6} {'p99':>6} "
        f"{'turns/s':>8}"
    )
    for run in r["runs"]:
        for path in ("rasa", "gateway"):
            s = run[path]
            out.append(
                f"  {_n(run):>3}  {path:8} {s['turns']:>6} {s['errors']:>4} "
                f"{ms(s['p50']):>6} {ms(s['p95']):>6} {ms(s['p99']):>6} {s['throughput']:>8.1f}"
            )
        g = run["ledger"]
        out.append(
            f"       gateway/Rasa p95 {run['ratio_p95']:.2f} "
            f"({interval(run)}); exactly-once "
            f"{'clean' if g['clean'] else 'NOT CLEAN'} ({g['sent']} sent, {g['inbound_rows']} "
            f"stored, {g['missing']} missing, {g['duplicated']} duplicated)"
        )
    cold = r.get("cold_start", {})
    out.append("Cold start: " + ", ".join(f"{k} {v['seconds']} s" for k, v in cold.items()))
    if r.get("training"):
        out.append(f"Training: {r['training']['seconds']:.0f} s")
    return "\n".join(out)
