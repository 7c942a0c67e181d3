import type { ErrorCode, Failure } from "./types.js";

/** A refused request: `code` is stable, `message` is for people. */
export class AuthError extends Error {
  override readonly name: string = "AuthError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The HTTP status of the response (0 when there was none). */
    readonly status: number,
  ) {
    super(message);
  }

  /** The error as a sign-in step returns it. */
  toFailure(): Failure {
    const { code, message } = this;
    return code === "rate_limited"
      ? { status: "error", code, message, retryAfter: 0 }
      : { status: "error", code, message };
  }
}

/** 403 `reauth_required`: prove a factor again with `reauthenticate`. */
export class ReauthRequiredError extends AuthError {
  override readonly name = "ReauthRequiredError";
  declare readonly code: "reauth_required";
}

/** 429 `rate_limited`: too many attempts; wait `retryAfter` seconds. */
export class RateLimitedError extends AuthError {
  override readonly name = "RateLimitedError";
  declare readonly code: "rate_limited";

  constructor(
    message: string,
    /** Seconds to wait before trying again (`Retry-After`). */
    readonly retryAfter: number,
  ) {
    super("rate_limited", message, 429);
  }

  override toFailure(): Failure {
    return {
      status: "error",
      code: "rate_limited",
      message: this.message,
      retryAfter: this.retryAfter,
    };
  }
}
