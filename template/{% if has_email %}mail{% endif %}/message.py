"""Email messages rendered from the package's Jinja2 templates.

Edit the wording in ``templates/``: each message has a ``.txt`` and an
``.html`` version, and the first line of the text version is the subject.
"""

from dataclasses import dataclass

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One email to one recipient."""

    to: str
    subject: str
    text: str
    html: str


class MessageRenderer:
    """Renders ``templates/<name>.txt`` and ``.html`` into a message."""

    def __init__(self) -> None:
        self._environment = Environment(
            loader=PackageLoader(__package__ or __name__, "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, name: str, to: str, **context: object) -> EmailMessage:
        """The message ``name`` for ``to``, filled in with ``context``."""
        text = self._environment.get_template(f"{name}.txt").render(context)
        subject, _, body = text.partition("\n")
        html = self._environment.get_template(f"{name}.html").render(
            context,
            subject=subject,
        )
        return EmailMessage(
            to=to,
            subject=subject.strip(),
            text=body.lstrip("\n"),
            html=html,
        )
