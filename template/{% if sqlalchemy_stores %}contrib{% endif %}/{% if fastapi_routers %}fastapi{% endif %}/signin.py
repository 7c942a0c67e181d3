"""The last part of every sign-in step: a session, or the next factor."""

from typing import TYPE_CHECKING

from fastapi import Request, Response

from ...authentication_session import AuthenticationSession
from .client import client_ip, user_agent
from .schemas import FactorRequired, SessionInfo, SignedIn

if TYPE_CHECKING:
    from .auth import Auth


async def conclude(
    auth: "Auth",
    token: str,
    flow: AuthenticationSession,
    request: Request,
    response: Response,
) -> SignedIn | FactorRequired:
    """Finish a sign-in that a factor has just advanced.

    If a factor is still required, the sign-in is stored and ``token``
    goes into the pre-login cookie. Otherwise it becomes a new session
    with a new token: the pre-login cookie is cleared and a session the
    browser already had is revoked on the server.
    """
    cookies = auth.cookies
    if not await auth.authentication.is_complete(flow):
        flow = await auth.authentication.save(flow)
        cookies.set(
            response,
            cookies.authentication,
            token,
            max_age=flow.expires_at - auth.clock.now(),
        )
        factors = await auth.authentication.available_factors(flow)
        return FactorRequired(factors=factors)
    done = await auth.authentication.complete(flow)
    if cookies.authentication in request.cookies:
        cookies.clear(response, cookies.authentication)
    previous = request.cookies.get(cookies.session)
    if previous:
        await auth.end_session(previous)
    issued = await auth.sessions.create(
        done.identity_id,
        amr=done.amr,
        auth_time=done.auth_time,
        ip_address=client_ip(request),
        user_agent=user_agent(request),
    )
    session = issued.session
    lifetime = auth.sessions.policy.absolute_timeout
    cookies.set(
        response,
        cookies.session,
        issued.token,
        max_age=session.created_at + lifetime - auth.clock.now(),
    )
    return SignedIn(
        session=SessionInfo.of(session, auth.sessions.expires_at(session)),
    )
