/**
 * A tiny React page on the generated client, for the browser test:
 * signed out -> sign in -> useSession() shows the session -> sign out.
 * tests/test_ts_client.py bundles it with esbuild into the example app.
 */

import { createAuthClient } from "@app/auth-client";
import {
  AuthProvider,
  useAuthClient,
  useSession,
} from "@app/auth-client/react";
import { useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";

const auth = createAuthClient({ baseURL: "/auth" });

function SignIn() {
  const client = useAuthClient();
  const [message, setMessage] = useState("");
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const result = await client.signIn.password({
      email: String(form.get("email")),
      password: String(form.get("password")),
    });
    setMessage(result.status === "error" ? result.code : result.status);
  };
  return (
    <form onSubmit={onSubmit}>
      <p id="status">Signed out</p>
      <input name="email" type="email" aria-label="Email" />
      <input name="password" type="password" aria-label="Password" />
      <button type="submit">Sign in</button>
      <p id="message">{message}</p>
    </form>
  );
}

function Account() {
  const client = useAuthClient();
  const { data, isPending, error } = useSession();
  if (error) return <p id="status">Error: {error.message}</p>;
  if (!data) return isPending ? <p id="status">Loading</p> : <SignIn />;
  return (
    <div>
      <p id="status">
        Signed in as {String(data.identity_id)} with {data.amr.join(", ")}
      </p>
      <p id="session">{data.id}</p>
      <button type="button" onClick={() => void client.signOut()}>
        Sign out
      </button>
    </div>
  );
}

createRoot(document.getElementById("root")!).render(
  <AuthProvider client={auth}>
    <Account />
  </AuthProvider>,
);
