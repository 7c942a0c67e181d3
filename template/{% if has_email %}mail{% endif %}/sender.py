"""Email senders: the console for development, SMTP for everything else."""

import email.message
import logging
from typing import Literal, Protocol

import aiosmtplib

from .message import EmailMessage

logger = logging.getLogger(__name__)

SmtpSecurity = Literal["starttls", "tls", "none"]


class EmailSender(Protocol):
    """Anything that can deliver an :class:`EmailMessage`."""

    async def send(self, message: EmailMessage) -> None: ...


class ConsoleEmailSender:
    """Prints messages to standard output (development only)."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, message: EmailMessage) -> None:
        print(  # noqa: T201
            f"--- email from {self.sender} to {message.to}\n"
            f"Subject: {message.subject}\n\n{message.text}---",
            flush=True,
        )


class SmtpEmailSender:
    """Delivers messages through an SMTP server with aiosmtplib."""

    def __init__(
        self,
        *,
        sender: str,
        host: str,
        port: int,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.sender = sender
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        mime = email.message.EmailMessage()
        mime["From"] = self.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        await aiosmtplib.send(
            mime,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            timeout=self.timeout,
        )
        # Never the subject or body: they carry codes.
        logger.info("email sent to %s", message.to)
