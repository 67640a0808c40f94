"""Look up one dossier in Redis: the unified status and every source's view, for officials."""

from __future__ import annotations

import json
from typing import Any

from redis import Redis

from contract.settings import Settings
from sinks.redis_sink import keys_for

# Vietnamese labels where officials read them.
STATUS_VI = {
    "SUBMITTED": "Mới đăng ký",
    "RECEIVED": "Đã tiếp nhận",
    "SUPPLEMENT_REQUESTED": "Yêu cầu bổ sung",
    "SUPPLEMENT_RECEIVED": "Đã bổ sung",
    "FINANCIAL_OBLIGATION": "Chờ nghĩa vụ tài chính",
    "IN_PROGRESS": "Đang xử lý",
    "TRANSFERRED": "Đã chuyển liên thông",
    "SUSPENDED": "Tạm dừng",
    "RESULT_READY": "Đã xử lý xong",
    "RETURNED": "Đã trả kết quả",
    "REJECTED": "Không được tiếp nhận / từ chối",
    "WITHDRAWN": "Công dân rút hồ sơ",
    "STOPPED": "Dừng xử lý",
    "CANCELLED": "Đã hủy",
}
OUTCOME_VI = {
    "PENDING": "Đang giải quyết",
    "ON_TIME": "Đúng hạn",
    "ENDED_EARLY": "Trước hạn",
    "OVERDUE": "Quá hạn",
}


class DossierNotFound(LookupError):
    pass


def get_state(settings: Settings, dossier_id: str, client: Redis | None = None) -> dict[str, Any] | None:
    r = client or Redis.from_url(settings.redis.url, **settings.redis.auth())
    raw = r.hget(keys_for(settings).dossier(dossier_id), "json")
    return None if raw is None else json.loads(raw)


def _label(status: str | None) -> str:
    return f"{status} ({STATUS_VI.get(status or '', '?')})" if status else "-"


def render_dossier(settings: Settings, dossier_id: str) -> dict[str, Any]:
    doc = get_state(settings, dossier_id)
    if doc is None:
        raise DossierNotFound(
            f"dossier {dossier_id!r} is not known (yet): check the code, or whether the worker is running "
            f"(`dongbo stack status`) and has caught up"
        )
    lines = [
        f"Hồ sơ {doc['dossier_id']}  (version {doc['version']})",
        f"  trạng thái / status : {_label(doc.get('status'))}",
        f"  kết quả / outcome   : {doc.get('outcome')} ({OUTCOME_VI.get(doc.get('outcome') or '', '?')})",
        f"  thủ tục / procedure : {doc.get('procedure_code') or '-'}"
        f"   đơn vị / unit: {doc.get('unit_code') or '-'}   kênh / channel: {doc.get('channel')}",
        f"  tiếp nhận / received: {doc.get('received_at') or '-'}   hạn / due: {doc.get('due_at') or '-'}"
        f"   kết thúc / ended: {doc.get('ended_at') or '-'}",
        "  theo từng hệ thống / per source:",
    ]
    for name, view in sorted((doc.get("sources") or {}).items()):
        lines.append(
            f"    {name:<9} {_label(view['status']):<40} raw={view.get('source_status') or '-':<8} "
            f"at {view['last_occurred_at']}  due={view.get('due_at') or '-'}  overdue={view.get('overdue')}"
            f"  events={view['events']}"
        )
    for p in doc.get("pauses") or []:
        lines.append(
            f"  tạm dừng / pause     : {p['start']} → {p.get('end') or 'đang dừng (now)'}  ({p['reason']})"
        )
    for c in doc.get("conflicts") or []:
        lines.append(f"  xung đột / conflict  : {c['kind']}: {c['detail']} (since {c['since']})")
    doc["_text"] = "\n".join(lines)
    return doc
