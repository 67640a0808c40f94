"""What a ward official is sent, and when: pure planning and rendering, no I/O.

One deadline alert (``dossier.deadlines``) becomes one notice per subscribed official and channel,
with a deterministic id (the alert's id, the official, the channel): a redelivered alert plans the
same notices, so the outbox keeps one of each. A notice is sent at the alert's moment when the
unit's office is open then, else at the unit's next opening (its own business calendar: holidays,
make-up working days and office hours). Near-deadline notices due at the same time for the same
official and channel go out together as one digest; an overdue notice goes out on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sinks.notify.subscriptions import Subscription, subscribers
from streams.domain.calendar import BusinessCalendar
from streams.model import VN_TZ


@dataclass(frozen=True)
class Notice:
    id: str
    official: str
    channel: str  # email | webhook
    address: str
    lang: str
    dossier_id: str
    kind: str  # near_deadline | overdue
    unit: str | None
    procedure: str | None
    due_at: datetime | None
    moment: datetime  # when the alert's moment passed
    send_at: datetime  # the moment, or the unit's next opening

    def dumps(self) -> str:
        doc = asdict(self)
        for k in ("due_at", "moment", "send_at"):
            doc[k] = doc[k].isoformat() if doc[k] is not None else None
        return json.dumps(doc, ensure_ascii=False, sort_keys=True)

    @classmethod
    def loads(cls, raw: str | bytes) -> Notice:
        doc = json.loads(raw)
        for k in ("due_at", "moment", "send_at"):
            doc[k] = datetime.fromisoformat(doc[k]) if doc[k] is not None else None
        return cls(**doc)


def notice_id(alert_id: str, official: str, channel: str) -> str:
    return hashlib.sha256(f"{alert_id}\x1f{official}\x1f{channel}".encode()).hexdigest()[:32]


def send_time(moment: datetime, calendar: BusinessCalendar) -> datetime:
    """The moment itself while the office is open, else its next opening: nobody is paged at night."""
    return moment if calendar.is_open(moment) else calendar.next_opening(moment)


CalendarFor = Callable[[str | None], BusinessCalendar]


def plan(alert: dict[str, Any], subs: Iterable[Subscription], calendar_for: CalendarFor) -> list[Notice]:
    """The notices one alert record asks for (none for kinds officials are not told about)."""
    unit, kind = alert.get("unit_code"), alert["kind"]
    moment: datetime = alert["at"]
    when = send_time(moment, calendar_for(unit))
    alert_id = alert.get("id") or f"{alert['dossier_id']}:{kind}"
    out = []
    for sub in subscribers(subs, unit, kind):
        for channel, address in sub.channels():
            out.append(Notice(
                id=notice_id(alert_id, sub.official, channel), official=sub.official, channel=channel,
                address=address, lang=sub.lang, dossier_id=alert["dossier_id"], kind=kind, unit=unit,
                procedure=alert.get("procedure_code"), due_at=alert.get("due_at"), moment=moment,
                send_at=when,
            ))  # fmt: skip
    return out


def batches(notices: Iterable[Notice]) -> list[list[Notice]]:
    """Messages to send: the near-deadline notices of one official, channel and address together
    (a digest), each overdue notice alone. Order: as given, digests where their first notice was."""
    out: list[list[Notice]] = []
    digests: dict[tuple[str, str, str], list[Notice]] = {}
    for n in notices:
        if n.kind == "near_deadline":
            key = (n.official, n.channel, n.address)
            if key not in digests:
                digests[key] = []
                out.append(digests[key])
            digests[key].append(n)
        else:
            out.append([n])
    return out


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: dict[str, Any]  # what the webhook receives


TEXT = {
    "vi": {
        "near_subject": "[dongbo] {n} hồ sơ sắp đến hạn giải quyết",
        "overdue_subject": "[dongbo] Hồ sơ {code} đã quá hạn giải quyết",
        "greeting": "Kính gửi {official},",
        "near_intro": "Các hồ sơ sau của đơn vị sắp đến hạn giải quyết:",
        "overdue_intro": "Hồ sơ sau của đơn vị đã quá hạn giải quyết:",
        "code": "Mã hồ sơ",
        "procedure": "Thủ tục",
        "unit": "Đơn vị",
        "due": "Hạn giải quyết",
        "left": "Thời gian làm việc còn lại",
        "late": "Đã quá hạn (giờ làm việc)",
        "link": "Xem hồ sơ",
        "footer": "Thư tự động từ dongbo (đồng bộ hồ sơ). Không trả lời thư này.",
        "hours": "{h} giờ {m} phút",
        "unknown": "không rõ",
    },
    "en": {
        "near_subject": "[dongbo] {n} dossier(s) near their due time",
        "overdue_subject": "[dongbo] Dossier {code} is overdue",
        "greeting": "Dear {official},",
        "near_intro": "These dossiers of your unit are near their legal due time:",
        "overdue_intro": "This dossier of your unit is past its legal due time:",
        "code": "Dossier",
        "procedure": "Procedure",
        "unit": "Unit",
        "due": "Legal due time",
        "left": "Working time left",
        "late": "Overdue by (working time)",
        "link": "Open",
        "footer": "Sent automatically by dongbo. Do not reply.",
        "hours": "{h} h {m} min",
        "unknown": "unknown",
    },
}


def _duration(t: dict[str, str], d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return t["hours"].format(h=minutes // 60, m=minutes % 60)


def render(
    batch: list[Notice],
    now: datetime,
    calendar_for: CalendarFor,
    procedure_name: Callable[[str | None, str], str | None],
    link: str,
) -> Message:
    """One message for a batch (``batches``), in its official's language. ``link``: a URL template
    with ``{dossier_id}``; ``now``: when it is sent (the working time left is counted from then)."""
    first = batch[0]
    t = TEXT[first.lang]
    lines = [t["greeting"].format(official=first.official), "",
             t["near_intro"] if first.kind == "near_deadline" else t["overdue_intro"], ""]  # fmt: skip
    items = []
    for n in batch:
        cal = calendar_for(n.unit)
        name = procedure_name(n.procedure, n.lang) if n.procedure else None
        due = n.due_at.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if n.due_at else t["unknown"]
        if n.due_at is None:
            remaining = t["unknown"]
        elif n.kind == "overdue" or now >= n.due_at:
            remaining = _duration(t, cal.working_time_between(n.due_at, max(now, n.due_at)))
        else:
            remaining = _duration(t, cal.working_time_between(now, n.due_at))
        url = link.format(dossier_id=n.dossier_id)
        lines += [
            f"- {t['code']}: {n.dossier_id}",
            f"  {t['procedure']}: {n.procedure or t['unknown']}" + (f" — {name}" if name else ""),
            f"  {t['unit']}: {n.unit or t['unknown']}",
            f"  {t['due']}: {due}",
            f"  {t['late'] if n.kind == 'overdue' else t['left']}: {remaining}",
            f"  {t['link']}: {url}",
            "",
        ]
        items.append({"dossier_id": n.dossier_id, "kind": n.kind, "unit": n.unit, "procedure": n.procedure,
                      "procedure_name": name, "due_at": n.due_at.isoformat() if n.due_at else None,
                      "working_time": remaining, "link": url, "notice_id": n.id})  # fmt: skip
    lines.append(t["footer"])
    subject = (t["near_subject"].format(n=len(batch)) if first.kind == "near_deadline"
               else t["overdue_subject"].format(code=first.dossier_id))  # fmt: skip
    payload = {"official": first.official, "kind": first.kind, "lang": first.lang, "subject": subject,
               "text": "\n".join(lines), "dossiers": items}  # fmt: skip
    return Message(subject, "\n".join(lines), payload)
