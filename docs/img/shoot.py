"""The README's screenshots, with Debian's Chromium headless (``python docs/img/shoot.py``).

- ``prometheus-alerts.png``: the local stack's Prometheus alerts page (``dongbo stack up``, after
  ``make demo``);
- ``notification-email.png``: a near-deadline digest and an overdue notice as an official's mail
  client shows them, rendered by the notifier's own code from a sample alert.
"""

from __future__ import annotations

import html
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from contract.settings import get_settings
from sinks.notify.messages import batches, plan, render
from sinks.notify.runner import procedure_namer
from sinks.notify.subscriptions import parse_subscriptions
from streams.configured import legal_rules
from streams.model import VN_TZ

HERE = Path(__file__).parent


def shoot(url: str, out: Path, size: str = "1280,900") -> None:
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={size}", f"--screenshot={out}", "--virtual-time-budget=5000", url],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def email_page() -> str:
    settings = get_settings()
    rules = legal_rules(settings.domain)
    subs = parse_subscriptions({"officials": [
        {"name": "Nguyễn Văn An", "units": ["000.00.15.H17"], "email": "an.nv@example.gov.vn"}]})  # fmt: skip
    due = datetime(2026, 3, 4, 13, 30, tzinfo=VN_TZ)
    alerts = [
        {"id": f"{d}:near", "dossier_id": d, "kind": "near_deadline", "unit_code": "000.00.15.H17",
         "procedure_code": p, "due_at": due, "at": datetime(2026, 3, 4, 9, 0, tzinfo=VN_TZ)}
        for d, p in (("000.00.15.H17-260303-0012", "1.001766"), ("000.00.15.H17-260303-0019", "1.001766"))
    ]  # fmt: skip
    notices = [n for a in alerts for n in plan(a, subs, rules.calendars.for_unit)]
    now = datetime(2026, 3, 4, 9, 0, tzinfo=VN_TZ)
    msg = render(batches(notices)[0], now, rules.calendars.for_unit, procedure_namer(rules.catalogue),
                 settings.notify.link)  # fmt: skip
    head = "".join(
        f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>"
        for k, v in (("Từ", settings.notify.sender), ("Đến", "an.nv@example.gov.vn"),
                     ("Ngày", "Thứ Tư, 04/03/2026 09:00"), ("Tiêu đề", msg.subject))
    )  # fmt: skip
    page = "background:#fff;border:1px solid #ccd;border-radius:6px;max-width:900px;margin:24px auto"
    body = "white-space:pre-wrap;font:15px/1.45 'DejaVu Sans',sans-serif;padding:16px 20px;margin:0"
    return (
        "<!doctype html><meta charset=utf-8><body style='font-family:sans-serif;background:#eef1f5;margin:0'>"
        f"<div style='{page}'><table style='width:100%;border-bottom:1px solid #ddd;padding:12px;"
        f'text-align:left\'>{head}</table><pre style="{body}">{html.escape(msg.text)}</pre></div>'
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "mail.html"
        page.write_text(email_page(), encoding="utf-8")
        shoot(page.as_uri(), HERE / "notification-email.png", "1000,640")
    prometheus = sys.argv[1] if len(sys.argv) > 1 else f"http://{get_settings().monitoring.prometheus}"
    shoot(f"{prometheus}/classic/alerts", HERE / "prometheus-alerts.png", "1280,1000")  # Debian: classic UI


if __name__ == "__main__":
    main()
