"""Placement and charges import (interfaces.md section 4), staff users and tokens, and
`db upgrade`: through the Flask CLI and through the service, on a migrated database."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.orm import Session

from bot.models import Account, ApiToken, Base, Charge, StaffUser
from bot.services.accounts_import import (
    CHARGE_COLUMNS,
    PLACEMENT_COLUMNS,
    ImportFailed,
    import_accounts,
)
from bot.services.users import MIN_PASSWORD_LENGTH, user_for_token
from tests.integration.factories import (
    DEMO_CHARGES,
    DEMO_PLACEMENT,
    STAFF_PASSWORD,
    read_csv,
    write_csv,
)

pytestmark = pytest.mark.integration

_SUMMARY = re.compile(
    r"accounts: (\d+) created, (\d+) updated, (\d+) unchanged; "
    r"charges: (\d+) added, (\d+) already present"
)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    # (created, updated, unchanged, charges added, charges already present) when ok
    counts: tuple[int, int, int, int, int] | None
    output: str


Importer = Callable[..., Outcome]


@pytest.fixture(params=["cli", "service"])
def run_import(
    request: pytest.FixtureRequest, runner: FlaskCliRunner, database_url: str, today: date
) -> Iterator[Importer]:
    """The same import through `flask accounts import` or through import_accounts()."""
    engine = create_engine(database_url)

    def through_cli(placement: Path, charges: Path | None = None) -> Outcome:
        args = ["accounts", "import", str(placement)]
        if charges is not None:
            args += ["--charges", str(charges)]
        result = runner.invoke(args=args)
        match = _SUMMARY.search(result.output)
        counts = tuple(int(n) for n in match.groups()) if match else None
        return Outcome(result.exit_code == 0, counts, result.output)  # type: ignore[arg-type]

    def through_service(placement: Path, charges: Path | None = None) -> Outcome:
        with Session(engine) as session, placement.open(newline="") as pfh:
            cfh = charges.open(newline="") if charges else None
            try:
                report = import_accounts(
                    session,
                    pfh,
                    cfh,
                    placement_name=placement.name,
                    charges_name=charges.name if charges else "charges",
                    today=today,
                )
                session.commit()
            except ImportFailed as exc:
                session.rollback()
                return Outcome(False, None, str(exc))
            finally:
                if cfh:
                    cfh.close()
        counts = (
            report.created,
            report.updated,
            report.unchanged,
            report.charges_added,
            report.charges_existing,
        )
        return Outcome(True, counts, "")

    yield through_cli if request.param == "cli" else through_service
    engine.dispose()


def count(session: Session, model: type[Base]) -> int:
    session.rollback()  # a fresh snapshot: the import committed elsewhere
    return session.scalar(select(func.count()).select_from(model)) or 0


def snapshot(session: Session) -> tuple[list[Any], list[Any]]:
    """Every column of every account and charge, in id order."""
    session.rollback()
    accounts = Account.__table__
    charges = Charge.__table__
    return (
        list(session.execute(select(accounts).order_by(accounts.c.id)).all()),
        list(session.execute(select(charges).order_by(charges.c.id)).all()),
    )


def account_by_ref(session: Session, ref: str) -> Account:
    session.rollback()
    found = session.scalar(select(Account).where(Account.account_ref == ref))
    assert found is not None, ref
    return found


def placement_rows() -> list[dict[str, str]]:
    return read_csv(DEMO_PLACEMENT)[1]


def charge_rows() -> list[dict[str, str]]:
    return read_csv(DEMO_CHARGES)[1]


def extra_account(ref: str, **changes: str) -> dict[str, str]:
    row = dict(placement_rows()[0])
    row.update(account_ref=ref, phone="", email="", **changes)
    return row


# --- the demo files -------------------------------------------------------------------------


def test_demo_files_import_four_accounts_and_ten_charges(
    run_import: Importer, session: Session
) -> None:
    outcome = run_import(DEMO_PLACEMENT, DEMO_CHARGES)

    assert outcome.ok, outcome.output
    assert outcome.counts == (4, 0, 0, 10, 0)
    assert count(session, Account) == 4
    assert count(session, Charge) == 10
    maria = account_by_ref(session, "ACC-100234")
    assert (maria.principal_cents, maria.interest_cents, maria.fees_cents) == (120000, 10437, 6500)
    assert maria.phone == "+12065550134"
    assert maria.date_of_birth == date(1984, 3, 12)
    assert maria.last_payment_date == date(2026, 1, 5)
    assert maria.address_zones == "America/Los_Angeles"
    assert "America/Los_Angeles" in maria.phone_zones.split()
    aisha = account_by_ref(session, "ACC-100777")
    assert aisha.date_of_birth == date(1992, 2, 29)
    assert aisha.last_payment_date is None
    robert = account_by_ref(session, "ACC-100901")
    assert robert.email is None
    assert (robert.principal_cents, robert.fees_cents) == (8999, 1500)


def test_demo_charges_match_the_placement_amounts(run_import: Importer, session: Session) -> None:
    assert run_import(DEMO_PLACEMENT, DEMO_CHARGES).ok
    session.rollback()

    for ref in ("ACC-100234", "ACC-100777"):
        acc = account_by_ref(session, ref)
        by_kind = dict(
            session.execute(
                select(Charge.kind, func.sum(Charge.amount_cents))
                .where(Charge.account_id == acc.id)
                .group_by(Charge.kind)
            ).all()
        )
        assert by_kind == {
            "principal": acc.principal_cents,
            "interest": acc.interest_cents,
            "fee": acc.fees_cents,
        }


def test_importing_the_same_files_twice_changes_no_row(
    run_import: Importer, session: Session
) -> None:
    assert run_import(DEMO_PLACEMENT, DEMO_CHARGES).ok
    before = snapshot(session)

    outcome = run_import(DEMO_PLACEMENT, DEMO_CHARGES)

    assert outcome.ok, outcome.output
    assert outcome.counts == (0, 0, 4, 0, 10)
    assert snapshot(session) == before
    assert count(session, Account) == 4
    assert count(session, Charge) == 10


def test_placement_without_charges_can_be_imported_then_charges_added_later(
    run_import: Importer, session: Session
) -> None:
    assert run_import(DEMO_PLACEMENT).counts == (4, 0, 0, 0, 0)

    outcome = run_import(DEMO_PLACEMENT, DEMO_CHARGES)

    assert outcome.counts == (0, 0, 4, 10, 0)
    assert count(session, Charge) == 10


def test_changed_amount_updates_the_existing_account(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    assert run_import(DEMO_PLACEMENT, DEMO_CHARGES).ok
    original = account_by_ref(session, "ACC-100512")
    rows = placement_rows()
    rows[1]["principal"] = "455.10"
    changed = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)

    outcome = run_import(changed)

    assert outcome.ok, outcome.output
    assert outcome.counts == (0, 1, 3, 0, 0)
    updated = account_by_ref(session, "ACC-100512")
    assert updated.id == original.id
    assert updated.principal_cents == 45510
    assert count(session, Account) == 4


def test_reference_in_another_case_updates_rather_than_duplicates(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    assert run_import(DEMO_PLACEMENT).ok
    rows = placement_rows()
    rows[0]["account_ref"] = "acc-100234"
    rows[0]["fees"] = "70.00"
    lower = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)

    outcome = run_import(lower)

    assert outcome.counts == (0, 1, 3, 0, 0)
    assert count(session, Account) == 4
    assert account_by_ref(session, "ACC-100234").fees_cents == 7000


# --- bad files load nothing -----------------------------------------------------------------


def test_bad_date_on_line_7_is_reported_and_nothing_of_the_file_is_loaded(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    assert run_import(DEMO_PLACEMENT, DEMO_CHARGES).ok
    before = snapshot(session)
    rows = placement_rows()
    rows[0]["principal"] = "1.00"  # line 2: a change that must not be applied
    rows.append(extra_account("ACC-200001"))  # line 6: a new account that must not be created
    rows.append(extra_account("ACC-200002", delinquent_since="2026-02-30"))  # line 7
    bad = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)

    outcome = run_import(bad, DEMO_CHARGES)

    assert not outcome.ok
    assert "placement.csv, line 7" in outcome.output
    assert "2026-02-30" in outcome.output
    assert "line 2" not in outcome.output and "line 6" not in outcome.output
    assert snapshot(session) == before
    assert count(session, Account) == 4


def test_bad_row_in_a_first_import_leaves_the_database_empty(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    rows = [*placement_rows(), extra_account("ACC-200001"), extra_account("ACC-200002")]
    rows[5]["date_of_birth"] = "12/03/1984"
    bad = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)
    assert count(session, Account) == 0

    outcome = run_import(bad, DEMO_CHARGES)

    assert not outcome.ok
    assert "line 7" in outcome.output
    assert count(session, Account) == 0
    assert count(session, Charge) == 0


def test_service_reports_the_line_of_each_bad_row(session: Session, today: date) -> None:
    header = ",".join(PLACEMENT_COLUMNS)
    good = DEMO_PLACEMENT.read_text().splitlines()[1]  # ACC-100234
    lines = [header, good]
    lines += [good.replace("ACC-100234", f"ACC-20000{i}") for i in range(1, 5)]
    lines += [good.replace("ACC-100234", "ACC-200009").replace("2026-02-01", "yesterday")]
    lines += [good.replace("ACC-100234", "ACC-200010").replace(",WA,", ",ZZ,")]
    placement = "\n".join(lines) + "\n"

    with pytest.raises(ImportFailed) as failed:
        import_accounts(session, io.StringIO(placement), placement_name="p.csv", today=today)

    assert [(e.file, e.line) for e in failed.value.errors] == [("p.csv", 7), ("p.csv", 8)]
    assert "yesterday" in failed.value.errors[0].message
    session.rollback()
    assert count(session, Account) == 0


def test_missing_columns_are_named_on_line_1(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    header = [c for c in PLACEMENT_COLUMNS if c not in ("zip", "state")]
    bad = write_csv(tmp_path / "placement.csv", header, placement_rows())

    outcome = run_import(bad)

    assert not outcome.ok
    assert "line 1" in outcome.output
    assert "missing columns: zip, state" in outcome.output
    assert count(session, Account) == 0


def test_missing_charge_columns_load_nothing_of_either_file(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    header = [c for c in CHARGE_COLUMNS if c != "kind"]
    bad = write_csv(tmp_path / "charges.csv", header, charge_rows())

    outcome = run_import(DEMO_PLACEMENT, bad)

    assert not outcome.ok
    assert "charges.csv, line 1: missing columns: kind" in outcome.output
    assert count(session, Account) == 0


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        pytest.param("phone", "555-0134", "not a valid phone number", id="bad-phone"),
        pytest.param("phone", "12345", "not a valid phone number", id="short-phone"),
        pytest.param("state", "ZZ", "'ZZ'", id="unknown-state"),
        pytest.param("zip", "9810", "bad ZIP code", id="short-zip"),
        pytest.param("ssn_last4", "678", "ssn_last4 must be 4 digits", id="short-ssn"),
        pytest.param("principal", "12.345", "dollars and cents", id="fraction-of-cent"),
        pytest.param("fees", "-5.00", "negative amount", id="negative-fee"),
        pytest.param("date_of_birth", "2030-01-01", "in the future", id="unborn"),
        pytest.param("creditor", "", "required value missing: creditor", id="empty-creditor"),
    ],
)
def test_bad_value_is_reported_with_its_line_and_loads_nothing(
    run_import: Importer,
    session: Session,
    tmp_path: Path,
    column: str,
    value: str,
    expected: str,
) -> None:
    rows = placement_rows()
    rows[2][column] = value  # line 4
    bad = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)

    outcome = run_import(bad)

    assert not outcome.ok
    assert "placement.csv, line 4" in outcome.output
    assert expected in outcome.output
    assert count(session, Account) == 0


def test_duplicate_account_ref_is_reported_at_its_second_line(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    rows = placement_rows()
    rows.append(dict(rows[0], first_name="Other"))  # line 6
    bad = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)

    outcome = run_import(bad)

    assert not outcome.ok
    assert "placement.csv, line 6: duplicate account_ref ACC-100234" in outcome.output
    assert count(session, Account) == 0


def test_charge_for_an_unknown_account_loads_neither_file(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    rows = charge_rows()
    rows.insert(2, dict(rows[0], account_ref="ACC-999999"))  # line 4
    bad = write_csv(tmp_path / "charges.csv", CHARGE_COLUMNS, rows)

    outcome = run_import(DEMO_PLACEMENT, bad)

    assert not outcome.ok
    assert "charges.csv, line 4: unknown account_ref ACC-999999" in outcome.output
    assert count(session, Account) == 0
    assert count(session, Charge) == 0


def test_charge_for_an_account_imported_earlier_is_accepted(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    assert run_import(DEMO_PLACEMENT).ok
    only_one = write_csv(tmp_path / "one.csv", PLACEMENT_COLUMNS, placement_rows()[:1])
    later = write_csv(
        tmp_path / "charges.csv",
        CHARGE_COLUMNS,
        [
            {
                "account_ref": "ACC-100512",
                "posted_on": "2025-07-01",
                "description": "Payment",
                "kind": "payment",
                "amount": "25.00",
            }
        ],
    )

    outcome = run_import(only_one, later)

    assert outcome.ok, outcome.output
    assert outcome.counts == (0, 0, 1, 1, 0)


def test_unknown_charge_kind_is_refused(
    run_import: Importer, session: Session, tmp_path: Path
) -> None:
    rows = charge_rows()
    rows[0]["kind"] = "penalty"
    bad = write_csv(tmp_path / "charges.csv", CHARGE_COLUMNS, rows)

    outcome = run_import(DEMO_PLACEMENT, bad)

    assert not outcome.ok
    assert "charges.csv, line 2: kind must be one of" in outcome.output
    assert count(session, Account) == 0


def test_cli_says_nothing_was_imported_and_exits_non_zero(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rows = placement_rows()
    rows[0]["state"] = "XX"
    rows[1]["zip"] = "ABCDE"
    bad = write_csv(tmp_path / "placement.csv", PLACEMENT_COLUMNS, rows)

    result = runner.invoke(args=["accounts", "import", str(bad)])

    assert result.exit_code == 1
    assert "error: placement.csv, line 2:" in result.stderr
    assert "error: placement.csv, line 3: bad ZIP code" in result.stderr
    assert "2 bad row(s); nothing was imported" in result.stderr


# --- staff users and API tokens -------------------------------------------------------------


def _create(runner: FlaskCliRunner, email: str, password: str = STAFF_PASSWORD) -> Any:
    return runner.invoke(args=["users", "create", email, "--role", "agent", "--password", password])


def _rows_containing(session: Session, needle: str) -> list[str]:
    """Every table.column whose stored value contains `needle`."""
    session.rollback()
    found = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)).mappings():
            found += [f"{table.name}.{k}" for k, v in row.items() if needle in str(v)]
    return found


def test_users_create_and_token_store_only_the_sha256_of_the_token(
    runner: FlaskCliRunner, session: Session, now: datetime
) -> None:
    created = _create(runner, "Agent.Smith@Example.test")
    assert created.exit_code == 0, created.output
    assert "created agent.smith@example.test (agent)" in created.output

    issued = runner.invoke(args=["users", "token", "agent.smith@example.test"])

    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert issued.stdout.count(token) == 1 and "\n" not in token and len(token) >= 32
    session.rollback()
    stored = session.scalars(select(ApiToken)).all()
    assert len(stored) == 1
    assert stored[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert _rows_containing(session, token) == []
    user = user_for_token(session, token, now=now)
    assert user is not None and user.email == "agent.smith@example.test"
    assert user.role == "agent"


def test_each_token_command_issues_a_new_working_token(
    runner: FlaskCliRunner, session: Session
) -> None:
    assert _create(runner, "a@example.test").exit_code == 0

    first = runner.invoke(args=["users", "token", "a@example.test"]).stdout.strip()
    second = runner.invoke(args=["users", "token", "a@example.test"]).stdout.strip()

    assert first != second
    session.rollback()
    assert user_for_token(session, first) is not None
    assert user_for_token(session, second) is not None


def test_revoked_wrong_or_inactive_user_token_finds_no_user(
    runner: FlaskCliRunner, session: Session, now: datetime
) -> None:
    assert _create(runner, "a@example.test").exit_code == 0
    assert _create(runner, "b@example.test").exit_code == 0
    token_a = runner.invoke(args=["users", "token", "a@example.test"]).stdout.strip()
    token_b = runner.invoke(args=["users", "token", "b@example.test"]).stdout.strip()
    session.rollback()

    assert user_for_token(session, token_a + "x") is None
    assert user_for_token(session, "") is None
    assert user_for_token(session, token_a.upper()) is None

    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(token_a.encode()).hexdigest())
    )
    assert row is not None
    row.revoked_at = now
    b = session.scalar(select(StaffUser).where(StaffUser.email == "b@example.test"))
    assert b is not None
    b.active = False
    session.commit()

    assert user_for_token(session, token_a) is None
    assert user_for_token(session, token_b) is None


@pytest.mark.parametrize("password", ["short", "x" * (MIN_PASSWORD_LENGTH - 1)])
def test_weak_password_is_refused_and_no_user_created(
    runner: FlaskCliRunner, session: Session, password: str
) -> None:
    result = _create(runner, "weak@example.test", password)

    assert result.exit_code != 0
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in result.output
    assert count(session, StaffUser) == 0


def test_password_of_minimum_length_is_accepted(runner: FlaskCliRunner, session: Session) -> None:
    result = _create(runner, "ok@example.test", "x" * MIN_PASSWORD_LENGTH)

    assert result.exit_code == 0, result.output
    assert count(session, StaffUser) == 1


def test_creating_an_existing_user_again_is_refused(
    runner: FlaskCliRunner, session: Session
) -> None:
    assert _create(runner, "a@example.test").exit_code == 0

    again = _create(runner, "A@example.test")

    assert again.exit_code != 0
    assert "already exists" in again.output
    assert count(session, StaffUser) == 1


def test_token_for_an_unknown_user_is_refused(runner: FlaskCliRunner, session: Session) -> None:
    result = runner.invoke(args=["users", "token", "nobody@example.test"])

    assert result.exit_code != 0
    assert "no user nobody@example.test" in result.output
    assert count(session, ApiToken) == 0


# --- db upgrade -----------------------------------------------------------------------------


def _fresh_app(tmp_path: Path) -> tuple[Flask, str]:
    from bot.web import create_app

    url = f"sqlite:///{tmp_path / 'fresh' / 'app.db'}"
    return create_app({"database_url": url, "var_dir": tmp_path}), url


def test_cli_commands_run_under_the_test_runner_without_a_pushed_context(
    tmp_path: Path,
) -> None:
    app, _ = _fresh_app(tmp_path)

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("exists", [True, False], ids=["empty-file", "no-file-yet"])
def test_db_upgrade_on_an_empty_sqlite_file_creates_every_table(
    tmp_path: Path, exists: bool
) -> None:
    app, url = _fresh_app(tmp_path)
    if exists:
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True)
        path.touch()

    with app.app_context():
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
        for table in Base.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_db_upgrade_twice_is_harmless(tmp_path: Path) -> None:
    app, _ = _fresh_app(tmp_path)

    with app.app_context():
        runner = app.test_cli_runner()
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        again = runner.invoke(args=["db", "upgrade"])

    assert again.exit_code == 0, again.output
