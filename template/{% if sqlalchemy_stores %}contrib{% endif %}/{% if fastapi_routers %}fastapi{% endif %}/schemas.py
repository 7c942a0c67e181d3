"""Request and response bodies shared by the routes."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from ...identity import IdentityId
from ...session import Session


def _encodable(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


# Put after any length limit: refuses text no database or hash function
# accepts (JSON escapes can smuggle in lone surrogates).
Encodable = AfterValidator(_encodable)


class Accepted(BaseModel):
    """The request was taken; nothing more is said about the outcome."""

    status: Literal["accepted"] = "accepted"


class SessionInfo(BaseModel):
    """A session as its owner sees it."""

    id: str
    identity_id: IdentityId
    amr: list[str] = Field(description="RFC 8176 authentication methods")
    auth_time: datetime
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, session: Session, expires_at: datetime) -> "SessionInfo":
        return cls(
            id=session.id,
            identity_id=session.identity_id,
            amr=list(session.amr),
            auth_time=session.auth_time,
            created_at=session.created_at,
            expires_at=expires_at,
        )


class SignedIn(BaseModel):
    """The sign-in is complete; the session cookie is set."""

    status: Literal["signed_in"] = "signed_in"
    session: SessionInfo


class FactorRequired(BaseModel):
    """Another factor is required; the pre-login cookie is set."""

    status: Literal["factor_required"] = "factor_required"
    factors: list[str]


SignInResult = Annotated[
    SignedIn | FactorRequired,
    Field(discriminator="status"),
]
