"""How a message leaves: SMTP mail and a generic JSON webhook (the shape a chat bridge takes).

A channel raises ``DeliveryError`` when a message was not accepted; the notifier keeps it pending
and retries it with backoff, so nothing is lost while a mail server or a bridge is down.
"""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.error import URLError
from urllib.request import Request, urlopen

from sinks.notify.messages import Message


class DeliveryError(RuntimeError):
    """The channel did not accept the message (down, refused, timed out)."""


class Channel(Protocol):
    name: str

    def send(self, address: str, message: Message, message_id: str) -> None: ...


class SmtpChannel:
    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, address: str, message: Message, message_id: str) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        # Deterministic: a notice sent again after a crash is recognisable as the same message.
        mail["Message-ID"] = f"<{message_id}@dongbo>"
        mail.set_content(message.text, charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"mail to {address} via {self.host}:{self.port}: {exc}") from exc


class WebhookChannel:
    name = "webhook"

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def send(self, address: str, message: Message, message_id: str) -> None:
        body = json.dumps({**message.payload, "message_id": message_id}, ensure_ascii=False).encode()
        req = Request(address, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urlopen(req, timeout=self.timeout) as resp:
                if not 200 <= resp.status < 300:
                    raise DeliveryError(f"webhook {address} answered {resp.status}")
        except (URLError, OSError) as exc:
            raise DeliveryError(f"webhook {address}: {exc}") from exc
