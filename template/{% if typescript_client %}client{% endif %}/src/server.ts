/**
 * Server side (Next.js server components, route handlers, middleware):
 * ask the auth routes who the incoming request belongs to.
 */

import { toError } from "./http.js";
import type { SessionInfo } from "./types.js";

export interface ServerSessionOptions {
  /** The auth routes' absolute URL, e.g. `http://api:8000/auth`. */
  baseURL: string;
  /** The incoming request's `Cookie` header (`null` when it had none). */
  cookie: string | null | undefined;
  /** The `fetch` to call (the global one by default). */
  fetch?: typeof fetch;
}

/**
 * The session of the request whose cookies are forwarded, or `null` when
 * it is signed out. Refusals other than 401 throw an `AuthError`.
 */
export async function getServerSession(
  options: ServerSessionOptions,
): Promise<SessionInfo | null> {
  if (!options.cookie) {
    return null;
  }
  const fetcher = options.fetch ?? globalThis.fetch;
  const response = await fetcher(
    `${options.baseURL.replace(/\/+$/, "")}/session`,
    {
      headers: { Accept: "application/json", Cookie: options.cookie },
      cache: "no-store",
    },
  );
  if (response.status === 401) {
    return null;
  }
  if (!response.ok) {
    throw await toError(response);
  }
  return (await response.json()) as SessionInfo;
}
