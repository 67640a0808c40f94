"""Notifications to ward officials, the pure part: subscriptions, when a notice goes out, what it says."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.settings import PROJECT_ROOT
from sinks.notify.messages import Notice, batches, plan, render, send_time
from sinks.notify.runner import procedure_namer
from sinks.notify.subscriptions import SubscriptionError, load_subscriptions, parse_subscriptions
from streams.domain.catalogue_io import cached_catalogue
from streams.domain.units import calendar_for
from streams.model import VN_TZ

EXAMPLE = PROJECT_ROOT / "sinks" / "notify" / "subscriptions.example.yml"
UNIT = "000.00.15.H17"
CAL = calendar_for(UNIT)


def subs(*officials: dict) -> list:
    return parse_subscriptions({"officials": list(officials)})


AN = {"name": "An", "units": [UNIT], "email": "an@example.gov.vn"}
BINH = {"name": "Bình", "units": [UNIT, "000.01.00.H17"], "email": "binh@example.gov.vn",
        "webhook": "http://127.0.0.1:9/hook", "lang": "en"}  # fmt: skip


def alert(kind: str, at: datetime, dossier: str = "000.00.15.H17-260304-0001", unit: str = UNIT) -> dict:
    due = datetime(2026, 3, 4, 13, 30, tzinfo=VN_TZ)
    return {"id": f"{dossier}:{kind}", "dossier_id": dossier, "kind": kind, "unit_code": unit,
            "procedure_code": "1.001766", "due_at": due, "at": at}  # fmt: skip


# -- subscriptions --------------------------------------------------------------------------------


def test_the_example_file_is_valid() -> None:
    loaded = load_subscriptions(EXAMPLE)
    assert len(loaded) == 3 and all(s.units and s.channels() for s in loaded)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"name": "X", "email": "x@example.vn"}, "official #1: units: Field required"),
        ({"name": "X", "units": [UNIT], "email": "not-an-address"}, "official #1: email"),
        ({"name": "X", "units": [UNIT], "email": "x@example.vn", "kinds": ["received_late"]}, "kinds.0"),
        ({"name": "X", "units": [UNIT]}, "give an email, a webhook or both"),
        ({"name": "X", "units": [UNIT], "webhook": "ftp://x"}, "webhook"),
        ({"name": "X", "units": [UNIT], "email": "x@example.vn", "lang": "fr"}, "lang"),
        ({"name": "X", "units": [UNIT], "email": "x@example.vn", "phone": "0905"}, "phone"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_entry_and_field(entry: dict, says: str) -> None:
    with pytest.raises(SubscriptionError) as err:
        parse_subscriptions({"officials": [entry]})
    assert says in str(err.value)


def test_a_bad_file_is_refused_whole(tmp_path: Path) -> None:
    bad = tmp_path / "subs.yml"
    bad.write_text(
        "officials: [ {name: A, units: [x], email: a@b.vn}, {name: A, units: [y], email: c@d.vn} ]"
    )
    with pytest.raises(SubscriptionError, match="official #2: 'A' is listed twice"):
        load_subscriptions(bad)
    bad.write_text("officials: [ {name: A")
    with pytest.raises(SubscriptionError, match="not valid YAML"):
        load_subscriptions(bad)
    with pytest.raises(SubscriptionError, match="cannot read"):
        load_subscriptions(tmp_path / "missing.yml")


# -- when ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)))
def test_a_notice_goes_out_at_its_moment_if_the_office_is_open_else_at_the_next_opening(
    naive: datetime,
) -> None:
    moment = naive.replace(tzinfo=VN_TZ)
    when = send_time(moment, CAL)
    assert when >= moment
    assert CAL.is_open(when)
    if CAL.is_open(moment):
        assert when == moment
    else:
        # Nothing open in between: it is the first opening after the moment.
        assert CAL.working_time_between(moment, when) == timedelta(0)


def test_held_over_a_holiday_to_the_next_working_morning() -> None:
    # Thursday 30 April 2026, 22:00: 30/4 and 1/5 are holidays, then a weekend.
    moment = datetime(2026, 4, 30, 22, 0, tzinfo=VN_TZ)
    assert send_time(moment, CAL) == datetime(2026, 5, 4, 7, 30, tzinfo=VN_TZ)
    # Lunch is closed too: 12:00 on a Wednesday waits for 13:00.
    assert send_time(datetime(2026, 3, 4, 12, 0, tzinfo=VN_TZ), CAL) == datetime(
        2026, 3, 4, 13, 0, tzinfo=VN_TZ
    )


# -- what ------------------------------------------------------------------------------------------


def test_one_notice_per_official_and_channel_with_ids_that_survive_a_redelivery() -> None:
    s = subs(AN, BINH)
    at = datetime(2026, 3, 4, 10, 0, tzinfo=VN_TZ)
    first = plan(alert("near_deadline", at), s, calendar_for)
    assert sorted((n.official, n.channel) for n in first) == [("An", "email"), ("Bình", "email"),
                                                              ("Bình", "webhook")]  # fmt: skip
    assert len({n.id for n in first}) == 3
    assert [n.id for n in plan(alert("near_deadline", at), s, calendar_for)] == [n.id for n in first]
    assert {n.id for n in plan(alert("overdue", at), s, calendar_for)}.isdisjoint(n.id for n in first)
    assert plan(alert("received_late", at), s, calendar_for) == []  # statistics, not officials
    assert plan(alert("overdue", at, unit="999.99.99.H17"), s, calendar_for) == []


def test_near_deadline_notices_go_as_one_digest_per_official_and_overdue_alone() -> None:
    s = subs(AN)
    at = datetime(2026, 3, 4, 10, 0, tzinfo=VN_TZ)
    notices = [n for d in ("D1", "D2", "D3") for n in plan(alert("near_deadline", at, d), s, calendar_for)]
    notices += plan(alert("overdue", at, "D4"), s, calendar_for) + plan(
        alert("overdue", at, "D5"), s, calendar_for
    )
    grouped = batches(notices)
    assert [[n.dossier_id for n in b] for b in grouped] == [["D1", "D2", "D3"], ["D4"], ["D5"]]


def render_one(kind: str, lang: str, now: datetime) -> tuple[Notice, str, str]:
    s = subs({**AN, "lang": lang})
    notice = plan(alert(kind, datetime(2026, 3, 4, 10, 0, tzinfo=VN_TZ)), s, calendar_for)[0]
    msg = render([notice], now, calendar_for, procedure_namer(cached_catalogue()), "https://x/d/{dossier_id}")
    assert msg.payload["dossiers"][0]["notice_id"] == notice.id
    return notice, msg.subject, msg.text


def test_the_vietnamese_message_says_code_procedure_unit_due_time_working_time_left_and_link() -> None:
    _, subject, text = render_one("near_deadline", "vi", datetime(2026, 3, 4, 10, 0, tzinfo=VN_TZ))
    assert subject == "[dongbo] 1 hồ sơ sắp đến hạn giải quyết"
    assert "Kính gửi An," in text
    assert "Mã hồ sơ: 000.00.15.H17-260304-0001" in text
    assert "Thủ tục: 1.001766 — " in text  # and its name from the catalogue
    assert "Đơn vị: 000.00.15.H17" in text
    assert "Hạn giải quyết: 13:30 04/03/2026" in text  # local time
    # 10:00 → 11:30 (1 h 30) + 13:00 → 13:30 (30 min): two working hours, the lunch break not counted.
    assert "Thời gian làm việc còn lại: 2 giờ 0 phút" in text
    assert "Xem hồ sơ: https://x/d/000.00.15.H17-260304-0001" in text


def test_the_english_overdue_message_says_how_late_in_working_time() -> None:
    _, subject, text = render_one("overdue", "en", datetime(2026, 3, 5, 8, 30, tzinfo=VN_TZ))
    assert subject == "[dongbo] Dossier 000.00.15.H17-260304-0001 is overdue"
    # Due Wed 13:30; now Thu 08:30: 13:30 → 17:00 (3 h 30) + 07:30 → 08:30 (1 h).
    assert "Overdue by (working time): 4 h 30 min" in text
    assert "Legal due time: 13:30 04/03/2026" in text
