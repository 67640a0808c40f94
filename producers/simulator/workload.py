"""Who submits what, when, where and how: the arrival of dossiers in the city.

Arrivals follow the business calendar of ``streams.domain`` (counters are open on working days
in office hours only; online submissions come at any hour, fewer at night, on weekends and on
holidays), peak hours (mid-morning and mid-afternoon at the desks, the evening online), the
weekday (Mondays are busiest) and the season (the rush before Tết). Procedures are those of the
domain catalogue, with their real limits; how often each is used and through which channel is
this module's data (``PROCEDURE_MIX``).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

from producers.simulator import rng as rngs
from producers.simulator.city import COMMUNAL, LAND, City
from producers.simulator.config import SimulationConfig
from streams.domain.calendar import BusinessCalendar, DayKind
from streams.domain.catalogue import Catalogue
from streams.model import VN_TZ, Channel


class SimulationError(ValueError):
    """A configuration the simulated city cannot run (said before anything is sent)."""


@dataclass(frozen=True)
class ProcedureMix:
    """How a catalogue procedure is used in the city."""

    weight: float  # relative volume
    role: str  # which units receive it (``city.ROLES``)
    system: str | None  # the ministry system that also holds it (civil, land, business) or None
    online: float  # typical share submitted online
    postal: bool = True  # may arrive by post
    fee: bool = True  # a fee or charge (indicator 3.6)
    financial: bool = False  # a financial obligation (tax) before the result
    transfer: str | None = None  # agency of an inter-agency (liên thông) step
    documents: int = 3  # component documents
    civil_kind: str | None = None  # loai_viec of the civil-status system


# Volumes loosely after a city one-stop centre's published mix: certifications dominate, then
# civil status, residence and land. Codes are the domain catalogue's.
PROCEDURE_MIX: dict[str, ProcedureMix] = {
    "2.000815": ProcedureMix(30, COMMUNAL, None, 0.15, postal=False, documents=1),
    "2.000884": ProcedureMix(8, COMMUNAL, None, 0.1, postal=False, documents=1),
    "1.001193": ProcedureMix(10, COMMUNAL, "civil", 0.6, fee=False, documents=3, civil_kind="khai_sinh"),
    "1.000689": ProcedureMix(
        0.8, COMMUNAL, "civil", 0.4, fee=False, documents=4, civil_kind="nhan_cha_me_con"
    ),
    "1.000894": ProcedureMix(3, COMMUNAL, "civil", 0.3, postal=False, fee=False, civil_kind="ket_hon"),
    "1.000656": ProcedureMix(1.5, COMMUNAL, "civil", 0.5, fee=False, documents=2, civil_kind="khai_tu"),
    "1.004873": ProcedureMix(4, COMMUNAL, "civil", 0.6, documents=2),
    "1.001766": ProcedureMix(3, COMMUNAL, "civil", 0.7, documents=1, civil_kind="trich_luc"),
    "1.012345": ProcedureMix(
        2, COMMUNAL, "civil", 0.8, fee=False, transfer="Công an cấp xã", documents=4, civil_kind="khai_sinh"
    ),
    "1.004194": ProcedureMix(5, COMMUNAL, None, 0.75, documents=3),
    "2.000575": ProcedureMix(3, COMMUNAL, "business", 0.55, documents=3),
    "2.001610": ProcedureMix(3, "business", "business", 0.92, documents=5),
    "2.000488": ProcedureMix(4, "justice", None, 0.6, transfer="Công an thành phố", documents=2),
    "1.009994": ProcedureMix(2, COMMUNAL, None, 0.3, documents=5),
    "1.009972": ProcedureMix(0.4, "construction", None, 0.35, documents=6),
    "1.009999": ProcedureMix(0.3, "construction", None, 0.5, financial=True, documents=4),
    "1.012756": ProcedureMix(1.5, LAND, "land", 0.15, financial=True, transfer="Cơ quan thuế", documents=5),
    "1.012780": ProcedureMix(4, LAND, "land", 0.25, financial=True, transfer="Cơ quan thuế", documents=5),
    "1.011650": ProcedureMix(3, LAND, "land", 0.4, documents=3),
    "1.011651": ProcedureMix(2, LAND, "land", 0.45, documents=2),
}

# Relative arrival intensity by time of day (hour → weight), per channel. Desks: a morning peak
# after opening, a smaller afternoon one, a lull before closing. Online: office hours and a
# second peak in the evening, almost nothing before dawn.
COUNTER_HOURS = {7: 0.8, 8: 1.6, 9: 1.8, 10: 1.4, 11: 0.7, 13: 0.9, 14: 1.4, 15: 1.3, 16: 0.6}
POSTAL_HOURS = {8: 1.0, 9: 1.0, 14: 0.8}  # mail is brought to the desk twice a day
ONLINE_HOURS = {
    0: 0.15, 1: 0.08, 2: 0.05, 3: 0.04, 4: 0.05, 5: 0.15, 6: 0.4, 7: 0.9, 8: 1.5, 9: 1.7, 10: 1.6,
    11: 1.2, 12: 0.8, 13: 1.0, 14: 1.5, 15: 1.5, 16: 1.3, 17: 1.0, 18: 0.8, 19: 1.0, 20: 1.3,
    21: 1.2, 22: 0.8, 23: 0.4,
}  # fmt: skip
WEEKDAY_FACTOR = (1.2, 1.05, 1.0, 1.0, 0.9, 1.0, 1.0)  # Monday … Sunday (working days only)
SLOT = timedelta(minutes=15)

SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Ngô")
MIDDLE = ("Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Đức", "Quang", "Thu", "Anh")
GIVEN = ("An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam", "Phúc",
         "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy")  # fmt: skip


@dataclass(frozen=True)
class Arrival:
    index: int  # the dossier's draw number: its random streams are keyed by it
    submitted_at: datetime
    procedure_code: str
    channel: Channel
    unit_code: str
    applicant: int  # index in the applicant pool
    code: str = ""  # dossier code, set once every arrival is known (sequence of the day)


@dataclass(frozen=True)
class _Profile:
    """Slots of the simulated span a channel can arrive in, with cumulative weights."""

    starts: tuple[datetime, ...]
    cum: tuple[float, ...]

    def pick(self, u: float, v: float) -> datetime:
        i = bisect.bisect_right(self.cum, u * self.cum[-1])
        i = min(i, len(self.starts) - 1)
        return self.starts[i] + SLOT * v


def _slot_weight(hour_weights: dict[int, float], at: datetime) -> float:
    return hour_weights.get(at.hour, 0.0)


def _profile(config: SimulationConfig, calendar: BusinessCalendar, channel: Channel) -> _Profile | None:
    """Every 15-minute slot of the span with its weight: day × weekday × season × hour."""
    w = config.workload
    starts: list[datetime] = []
    weights: list[float] = []
    for k in range(config.days):
        day = config.start + timedelta(days=k)
        info = calendar.day_info(day)
        season = w.season[day.month - 1]
        if channel is Channel.ONLINE:
            if info.working:
                factor = WEEKDAY_FACTOR[day.weekday()]
            elif info.kind in (DayKind.HOLIDAY, DayKind.SWAPPED_OFF):
                factor = w.holiday_online_factor
            else:
                factor = w.weekend_online_factor
            midnight = datetime(day.year, day.month, day.day, tzinfo=VN_TZ)
            for s in range(96):
                at = midnight + SLOT * s
                starts.append(at)
                weights.append(season * factor * _slot_weight(ONLINE_HOURS, at))
            continue
        if not info.working:
            continue
        hours = POSTAL_HOURS if channel is Channel.POSTAL else COUNTER_HOURS
        for open_at, close_at in calendar.working_intervals(day):
            at = open_at
            while at + SLOT <= close_at:  # whole slots inside office hours: desks are open
                starts.append(at)
                weights.append(season * WEEKDAY_FACTOR[day.weekday()] * _slot_weight(hours, at))
                at += SLOT
    total = sum(weights)
    if total <= 0:
        return None
    return _Profile(tuple(starts), tuple(accumulate(weights)))


def plan_arrivals(
    config: SimulationConfig, city: City, catalogue: Catalogue, calendar: BusinessCalendar
) -> list[Arrival]:
    """Every dossier of the run, ordered by submission, with its dossier code."""
    last = config.start + timedelta(days=config.days - 1)
    # Procedures with a version in force over the whole span (the catalogue is dated data).
    mix = {
        code: m
        for code, m in PROCEDURE_MIX.items()
        if code in catalogue
        and (p := catalogue.get(code)).version_on(config.start) is not None
        and p.version_on(last) is not None
    }
    if not mix:
        raise ValueError(
            f"no procedure of the mix has a catalogue version valid from {config.start} to {last}"
        )
    codes = sorted(mix)
    proc_cum = list(accumulate(mix[c].weight for c in codes))
    profiles = {
        ch: _profile(config, calendar, ch) for ch in (Channel.ONLINE, Channel.COUNTER, Channel.POSTAL)
    }
    units = {role: city.by_role(role, config.start) for role in {m.role for m in mix.values()}}
    empty = sorted(role for role, us in units.items() if not us)
    if empty:
        raise SimulationError(
            f"no unit receives {', '.join(empty)} dossiers on {config.start}: the city data describes "
            f"Da Nang from {city.merger_date} (after the 2025 mergers); start on or after that day"
        )
    unit_cum = {role: list(accumulate(u.weight for u in us)) for role, us in units.items()}
    pool = max(1, round(config.dossiers * config.workload.applicant_pool))
    w = config.workload
    out: list[Arrival] = []
    for i in range(config.dossiers):
        r = rngs.stream(config.seed, "arrival", i)
        code = codes[bisect.bisect_right(proc_cum, r.random() * proc_cum[-1])]
        m = mix[code]
        u = r.random()
        online = min(1.0, m.online * w.online_factor)
        if u < online:
            channel = Channel.ONLINE
        elif m.postal and u < online + w.postal_share:
            channel = Channel.POSTAL
        else:
            channel = Channel.COUNTER
        profile = profiles[channel] or profiles[Channel.ONLINE]
        if profiles[channel] is None:  # no desk open in the whole span: it can only come online
            channel = Channel.ONLINE
        assert profile is not None
        at = profile.pick(r.random(), r.random())
        role_units = units[m.role]
        unit = role_units[bisect.bisect_right(unit_cum[m.role], r.random() * unit_cum[m.role][-1])]
        out.append(Arrival(i, at.replace(microsecond=0), code, channel, unit.code, r.randrange(pool)))
    return number(out)


def number(arrivals: Sequence[Arrival]) -> list[Arrival]:
    """Dossier codes ``<unit>-<YYMMDD>-<4-digit sequence of the day>`` (Circular 01/2018 Art. 19).

    The date is the submission date (the portal numbers an online dossier when it is submitted),
    the sequence the order of submission at that unit that day.
    """
    ordered = sorted(arrivals, key=lambda a: (a.submitted_at, a.index))
    seq: dict[tuple[str, date], int] = {}
    out = []
    for a in ordered:
        day = a.submitted_at.date()
        n = seq[(a.unit_code, day)] = seq.get((a.unit_code, day), 0) + 1
        out.append(
            Arrival(a.index, a.submitted_at, a.procedure_code, a.channel, a.unit_code, a.applicant,
                    f"{a.unit_code}-{day:%y%m%d}-{n:04d}")
        )  # fmt: skip
    return out


def applicant(seed: int, k: int) -> tuple[str, str]:
    """Applicant ``k`` of the pool: a 12-digit identity number (CCCD) and a name, stable per seed.

    CCCD layout: province of birth (048 Da Nang, 049 Quảng Nam), century-and-sex digit, two
    digits of the birth year, six random digits. Never a real person: the numbers are drawn.
    """
    h = int.from_bytes(
        hashlib.blake2b(f"{seed}\x1fapplicant\x1f{k}".encode(), digest_size=16).digest(), "big"
    )
    province = "048" if h % 3 else "049"
    h //= 3
    sex = h % 2
    h //= 2
    year = 1950 + h % 56
    h //= 56
    century = (0 if year < 2000 else 2) + sex
    serial = h % 1_000_000
    h //= 1_000_000
    name = f"{SURNAMES[h % len(SURNAMES)]} {MIDDLE[(h // 13) % len(MIDDLE)]} {GIVEN[(h // 151) % len(GIVEN)]}"
    return f"{province}{century}{year % 100:02d}{serial:06d}", name


STREETS = ("Bạch Đằng", "Trần Phú", "Lê Duẩn", "Nguyễn Văn Linh", "Hùng Vương", "Ông Ích Khiêm",
           "Điện Biên Phủ", "Hoàng Diệu", "Phan Châu Trinh", "Ngô Quyền")  # fmt: skip


def contact(seed: int, k: int) -> tuple[str, str]:
    """Applicant ``k``'s mobile number and home address, as source forms carry them next to the
    identity number: personal data the adapters must drop (never a real person's)."""
    h = int.from_bytes(hashlib.blake2b(f"{seed}\x1fcontact\x1f{k}".encode(), digest_size=16).digest(), "big")
    phone = f"09{h % 100_000_000:08d}"
    h //= 100_000_000
    house = 1 + h % 400
    street = STREETS[(h // 400) % len(STREETS)]
    return phone, f"{house} {street}, Đà Nẵng"
