"""The procedure catalogue: packaged data, lookup by receipt time, YAML/CSV loaders and their errors."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from streams.domain.catalogue import NoVersionAt, UnknownProcedure
from streams.domain.catalogue_io import (
    CatalogueError,
    cached_catalogue,
    load_catalogue,
    parse_csv,
    parse_yaml,
    to_yaml,
)
from streams.domain.limits import Limit, LimitUnit
from streams.model import VN_TZ, Status

CAT = cached_catalogue()


def test_every_row_of_the_domain_table_is_seeded() -> None:
    expected = {
        "Birth registration": (LimitUnit.SAME_DAY, 0),
        "Birth registration with recognition of parent": (LimitUnit.WORKING_DAYS, 3),
        "Marriage registration": (LimitUnit.SAME_DAY, 0),
        "Certified copy from the original": (LimitUnit.SAME_DAY, 0),
        "Enterprise registration": (LimitUnit.WORKING_DAYS, 3),
        "Household business registration": (LimitUnit.WORKING_DAYS, 3),
        "Judicial record certificate": (LimitUnit.WORKING_DAYS, 10),
        "Construction permit, individual house": (LimitUnit.DAYS, 15),
        "Construction permit, works": (LimitUnit.DAYS, 20),
        "Land: first-time certificate": (LimitUnit.DAYS, 30),
        "Land: transfer registration": (LimitUnit.WORKING_DAYS, 10),
        "Mortgage registration on land": (LimitUnit.SAME_DAY, 0),
        "Mortgage deletion on land": (LimitUnit.SAME_DAY, 0),
    }
    by_name = {p.name_en: p for p in CAT}
    for name, (unit, value) in expected.items():
        latest = by_name[name].versions[-1]
        assert (latest.limit.unit, latest.limit.value) == (unit, value), name
    assert len(CAT) >= len(expected) + 4  # plus common ones
    for p in CAT:  # same-day rules carry the 15:00 cut-off or fall back on the policy's
        for v in p.versions:
            assert v.limit.cutoff in (None, time(15, 0))


def test_judicial_record_changed_from_10_20_to_10_15() -> None:
    old = CAT.lookup("2.000488", datetime(2025, 6, 30, 16, 0, tzinfo=VN_TZ))
    new = CAT.lookup("2.000488", datetime(2025, 7, 1, 8, 0, tzinfo=VN_TZ))
    assert old.complex_limit == Limit(20, LimitUnit.WORKING_DAYS)
    assert new.complex_limit == Limit(15, LimitUnit.WORKING_DAYS)
    assert new.limit_for(complex_case=True).value == 15 and new.limit_for().value == 10


def test_lookup_uses_the_date_in_vietnam() -> None:
    # 2025-06-30T18:00Z is already 1 July in Vietnam
    at = datetime.fromisoformat("2025-06-30T18:00:00+00:00")
    assert CAT.lookup("2.000488", at).valid_from == date(2025, 7, 1)


def test_lookup_errors_say_what_is_missing() -> None:
    with pytest.raises(UnknownProcedure, match=r"9\.999999"):
        CAT.lookup("9.999999", date(2026, 1, 1))
    with pytest.raises(NoVersionAt, match="no version valid on 01/01/2000"):
        CAT.lookup("2.000488", date(2000, 1, 1))


def test_land_procedures_pause_on_financial_obligation_and_split_steps() -> None:
    v = CAT.lookup("1.012780", date(2026, 1, 1))
    assert v.pause_on == frozenset({Status.SUPPLEMENT_REQUESTED, Status.FINANCIAL_OBLIGATION})
    assert abs(sum(s.share for s in v.steps) - 1) < 1e-9
    assert CAT.lookup("1.001193", date(2026, 1, 1)).pause_on is None  # policy default


def test_yaml_round_trip_keeps_everything() -> None:
    again = parse_yaml(to_yaml(CAT))
    assert list(again) == list(CAT)


GOOD_YAML = """
procedures:
  - code: "X.1"
    name: "Thủ tục thử"
    versions:
      - {valid_from: 2024-01-01, valid_to: 2024-12-31, unit: working_days, limit: 3}
      - {valid_from: 2025-01-01, unit: same_day, cutoff: 15:30}
"""


def test_unquoted_cutoff_read_by_yaml_as_a_number_is_understood() -> None:
    cat = parse_yaml(GOOD_YAML)
    assert cat.lookup("X.1", date(2025, 5, 1)).limit.cutoff == time(15, 30)


@pytest.mark.parametrize(
    ("version", "line", "field", "message"),
    [
        ("{valid_from: 2025-01-01, unit: workdays, limit: 3}", 6, "unit", "not a unit: use one of same_day"),
        ("{valid_from: 2025-01-01, unit: days, limit: 2.5}", 6, "limit", "whole numbers"),
        ("{valid_from: 2025-01-01, unit: days}", 6, "limit", "is required"),
        ("{valid_from: 2025-01-01, unit: days, limit: 0}", 6, "limit", "more than 0"),
        ("{valid_from: 2025-13-01, unit: days, limit: 3}", 6, "valid_from", "expected YYYY-MM-DD"),
        ("{valid_from: 2025-01-01, unit: days, limit: 3, cutoff: '15:00'}", 6, "cutoff", "only applies"),
        ("{valid_from: 2025-01-01, unit: same_day, cutoff: 3pm}", 6, "cutoff", "expected HH:MM"),
        ("{valid_from: 2025-01-01, unit: same_day, pause_on: [WAITING]}", 6, "pause_on", "not a status"),
        ("{valid_from: 2025-01-01, unit: same_day, limt: 3}", 6, "limt", "unknown field"),
        (
            "{valid_from: 2025-01-02, valid_to: 2025-01-01, unit: same_day}",
            6,
            "valid_to",
            "before valid_from",
        ),
        (
            "{valid_from: 2025-01-01, unit: days, limit: 9, steps: [{agency: A, share: 0.5}]}",
            6,
            "steps",
            "add up to 0.5",
        ),
    ],
)
def test_yaml_errors_name_line_and_field(version: str, line: int, field: str, message: str) -> None:
    text = f"""procedures:
  - code: "X.1"
    name: "Thủ tục thử"
    name_en: Test
    versions:
      - {version}
"""
    with pytest.raises(CatalogueError) as err:
        parse_yaml(text, "t.yaml")
    text = str(err.value)
    assert f"t.yaml:{line}:" in text and f".{field}" in text and message in text, text


def test_all_problems_are_reported_at_once_with_their_lines() -> None:
    text = """procedures:
  - code: 1.001193
    name: "A"
    versions: [{valid_from: 2025-01-01, unit: same_day}]
  - code: "B"
    versions: [{valid_from: 2025-01-01, unit: same_day}]
  - code: "C"
    name: "C"
    versions:
      - {valid_from: 2024-01-01, unit: same_day}
      - {valid_from: 2025-01-01, unit: same_day}
  - code: "C"
    name: "C again"
    versions: [{valid_from: 2025-01-01, unit: same_day}]
"""
    with pytest.raises(CatalogueError) as err:
        parse_yaml(text, "t.yaml")
    lines = [str(p) for p in err.value.problems]
    assert any("t.yaml:2:" in p and "quoted" in p for p in lines), lines  # code read as a number
    assert any("t.yaml:5:" in p and ".name" in p and "required" in p for p in lines), lines
    assert any("overlap" in p for p in lines), lines  # C's first version never ends
    assert len(lines) == 3, lines  # the second C is not reported twice: the first was invalid


def test_duplicate_codes_are_refused() -> None:
    text = (
        "procedures:\n"
        + '  - {code: "A", name: "A", versions: [{valid_from: 2025-01-01, unit: same_day}]}\n' * 2
    )
    with pytest.raises(CatalogueError, match="already defined at line 2"):
        parse_yaml(text)


def test_broken_yaml_says_where() -> None:
    with pytest.raises(CatalogueError, match=r"t.yaml:2: file: not valid YAML"):
        parse_yaml("procedures:\n  - code: a: b\n", "t.yaml")


CSV = "\n".join(
    [
        "code,name,name_en,valid_from,valid_to,unit,limit,cutoff,pause_on,"
        "complex_limit,complex_unit,complex_when,steps",
        "2.000488,Cấp Phiếu lý lịch tư pháp,Judicial record,2010-07-01,2025-06-30,working_days,10,,,"
        "20,working_days,phức tạp,",
        "2.000488,Cấp Phiếu lý lịch tư pháp,Judicial record,2025-07-01,,working_days,10,,,"
        "15,working_days,phức tạp,",
        "1.012780,Chuyển nhượng,Land transfer,2024-08-01,,working_days,10,,"
        "SUPPLEMENT_REQUESTED;FINANCIAL_OBLIGATION,,,,VPĐKĐĐ=0.7;Thuế=0.3",
        "1.001193,Đăng ký khai sinh,Birth,2016-01-01,,same_day,,15:00,,,,,",
        "",
    ]
)


def test_csv_loads_versions_grouped_by_code(tmp_path: Path) -> None:
    path = tmp_path / "cat.csv"
    path.write_text(CSV, encoding="utf-8")
    cat = load_catalogue(path)
    assert len(cat) == 3
    assert cat.lookup("2.000488", date(2026, 1, 1)).complex_limit == Limit(15, LimitUnit.WORKING_DAYS)
    land = cat.lookup("1.012780", date(2026, 1, 1))
    assert [s.agency for s in land.steps] == ["VPĐKĐĐ", "Thuế"]
    assert Status.FINANCIAL_OBLIGATION in (land.pause_on or ())
    assert cat.lookup("1.001193", date(2026, 1, 1)).limit.cutoff == time(15, 0)


def test_csv_errors_name_the_row_line() -> None:
    bad = CSV.replace("2025-07-01,,working_days,10", "2025-07-01,,working_days,ten")
    bad = bad.replace("Birth,2016", "Birth again,2016")
    with pytest.raises(CatalogueError) as err:
        parse_csv(bad, "c.csv")
    text = str(err.value)
    assert "c.csv:3:" in text and "'ten' is not a number" in text, text
    with pytest.raises(CatalogueError, match="missing column"):
        parse_csv("code,name\nA,B\n", "c.csv")
    with pytest.raises(CatalogueError, match=r"unknown column\(s\) \['colour'\]"):
        parse_csv("code,name,valid_from,unit,colour\n", "c.csv")
    names = CSV.replace("Judicial record,2025", "Other name,2025")
    with pytest.raises(CatalogueError, match=r"c.csv:3: 2.000488.name_en: 'Other name' differs from line 2"):
        parse_csv(names, "c.csv")


def test_unreadable_file() -> None:
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(Path("/nonexistent/catalogue.yaml"))
