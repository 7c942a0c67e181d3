/**
 * React bindings: `<AuthProvider client={auth}>` once near the root, then
 * `useSession()` anywhere below it.
 */

import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactElement,
  type ReactNode,
} from "react";
import type { AuthClient } from "./index.js";
import type { SessionInfo } from "./types.js";

export interface SessionState {
  /** The signed-in session; `null` when signed out or not known yet. */
  data: SessionInfo | null;
  /** True until the first answer; refetches run in the background. */
  isPending: boolean;
  /** Why the last fetch failed (network, server), else `null`. */
  error: Error | null;
  /** Ask the server again. */
  refetch: () => Promise<void>;
}

interface AuthContextValue {
  client: AuthClient;
  state: SessionState;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export interface AuthProviderProps {
  client: AuthClient;
  children?: ReactNode;
}

/**
 * Holds the session for `useSession`; fetches it on mount, when the
 * window regains focus and after every sign-in and sign-out.
 */
export function AuthProvider({
  client,
  children,
}: AuthProviderProps): ReactElement {
  const [data, setData] = useState<SessionInfo | null>(null);
  const [isPending, setPending] = useState(true);
  const [error, setError] = useState<Error | null>(null);
  const latest = useRef(0);

  const refetch = useCallback(async (): Promise<void> => {
    const call = ++latest.current;
    try {
      const session = await client.session();
      if (call === latest.current) {
        setData(session);
        setError(null);
      }
    } catch (caught) {
      if (call === latest.current) {
        setError(caught instanceof Error ? caught : new Error(String(caught)));
      }
    } finally {
      if (call === latest.current) {
        setPending(false);
      }
    }
  }, [client]);

  useEffect(() => {
    const refresh = (): void => {
      void refetch();
    };
    const onVisible = (): void => {
      if (document.visibilityState === "visible") {
        refresh();
      }
    };
    refresh();
    window.addEventListener("focus", refresh);
    document.addEventListener("visibilitychange", onVisible);
    const unsubscribe = client.subscribe(refresh);
    return () => {
      window.removeEventListener("focus", refresh);
      document.removeEventListener("visibilitychange", onVisible);
      unsubscribe();
    };
  }, [client, refetch]);

  const value = useMemo(
    () => ({ client, state: { data, isPending, error, refetch } }),
    [client, data, isPending, error, refetch],
  );
  return createElement(AuthContext.Provider, { value }, children);
}

function useAuthContext(): AuthContextValue {
  const value = useContext(AuthContext);
  if (value === null) {
    throw new Error("Wrap the component in <AuthProvider client={...}>.");
  }
  return value;
}

/** The session `AuthProvider` holds: `{ data, isPending, error, refetch }`. */
export function useSession(): SessionState {
  return useAuthContext().state;
}

/** The client given to `AuthProvider`, to sign in and out with. */
export function useAuthClient(): AuthClient {
  return useAuthContext().client;
}
