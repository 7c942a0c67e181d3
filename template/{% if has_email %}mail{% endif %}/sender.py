"""Email senders: the console for development, SMTP for everything else."""

import email.message
import logging
from typing import Literal, Protocol

import aiosmtplib

from ..exceptions import EmailDeliveryFailed
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
        """Hand ``message`` to the SMTP server.

        :class:`EmailDeliveryFailed` if the server is down, refuses the
        message or does not answer within ``timeout`` seconds.
        """
        mime = email.message.EmailMessage()
        mime["From"] = self.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        try:
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
        except (aiosmtplib.SMTPException, OSError) as error:
            # The error's class only: server replies can echo the message.
            logger.warning(
                "email to %s not delivered (%s)",
                message.to,
                type(error).__name__,
            )
            raise EmailDeliveryFailed from error
        # Never the subject or body: they carry codes.
        logger.info("email sent to %s", message.to)
