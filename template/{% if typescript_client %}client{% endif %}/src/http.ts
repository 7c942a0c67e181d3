import { AuthError, RateLimitedError, ReauthRequiredError } from "./errors.js";
import type { ErrorCode } from "./types.js";

/** Calls the auth routes with the browser's cookies; never sees a token. */
export class Http {
  readonly #baseURL: string;
  readonly #fetch: typeof fetch;

  constructor(baseURL: string, fetcher?: typeof fetch) {
    this.#baseURL = baseURL.replace(/\/+$/, "");
    // Never called as a method: browsers refuse a `fetch` bound elsewhere.
    this.#fetch = fetcher ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The absolute or site-relative URL of a route. */
  url(path: string): string {
    return this.#baseURL + path;
  }

  /** A JSON body, or `undefined` for an empty (204) response. */
  async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = {
      method,
      credentials: "include",
      cache: "no-store",
      headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers = { ...init.headers, "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const fetcher = this.#fetch;
    const response = await fetcher(this.url(path), init);
    if (!response.ok) {
      throw await toError(response);
    }
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** The typed error for a refused response. */
export async function toError(response: Response): Promise<AuthError> {
  const { code, message } = await detail(response);
  if (code === "rate_limited") {
    const seconds = Number(response.headers.get("Retry-After"));
    return new RateLimitedError(
      message,
      Number.isFinite(seconds) ? seconds : 1,
    );
  }
  if (code === "reauth_required") {
    return new ReauthRequiredError(code, message, response.status);
  }
  return new AuthError(code, message, response.status);
}

async function detail(
  response: Response,
): Promise<{ code: ErrorCode; message: string }> {
  const fallback = {
    code: "unknown" as const,
    message: `${response.status} ${response.statusText}`.trim(),
  };
  try {
    const body = (await response.json()) as {
      detail?: { code?: unknown; message?: unknown };
    };
    const { code, message } = body.detail ?? {};
    if (typeof code === "string" && typeof message === "string") {
      return { code: code as ErrorCode, message };
    }
  } catch {
    // Not JSON: a proxy's or a server's error page.
  }
  return fallback;
}
