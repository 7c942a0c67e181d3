/**
 * The generated client in Node against the example app served by uvicorn
 * (tests/test_ts_client.py starts it): real HTTP, real cookies.
 *
 * AEGISTRY_AUTH_URL is where the auth router is mounted,
 * AEGISTRY_CLIENT_DIR the rendered client/ folder and AEGISTRY_MAIL_DIR
 * where the SMTP server the app sends to writes each message's text.
 * Node's fetch keeps no cookies, so each "browser" here is a small cookie
 * jar around it, which also sends `Origin` as a browser does (the routes'
 * CSRF check).
 */

import { createHmac, randomUUID } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const baseURL = required("AEGISTRY_AUTH_URL");
const clientDir = required("AEGISTRY_CLIENT_DIR");
const mailDir = required("AEGISTRY_MAIL_DIR");
const origin = new URL(baseURL).origin;
// Typed through tsconfig `paths` where tests/test_ts_client.py type-checks
// this file next to the rendered client.
type Core = typeof import("@app/auth-client");
type Server = typeof import("@app/auth-client/server");
const entry = (name: string): Promise<unknown> =>
  import(pathToFileURL(`${clientDir}/src/${name}.ts`).href);
const { createAuthClient, AuthError, RateLimitedError, ReauthRequiredError } =
  (await entry("index")) as Core;
const { getServerSession } = (await entry("server")) as Server;

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run tests/test_ts_client.py`);
  }
  return value;
}

/** A fetch with a cookie jar: what a browser would do for the client. */
function browser() {
  const jar = new Map<string, string>();
  const cookieHeader = () =>
    [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
  const fetcher: typeof fetch = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("Origin", origin);
    if (jar.size > 0) {
      headers.set("Cookie", cookieHeader());
    }
    const response = await fetch(input, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = attributes.some(
        (attribute) => attribute.trim().toLowerCase() === "max-age=0",
      );
      if (expired || value === "") {
        jar.delete(name);
      } else {
        jar.set(name, value);
      }
    }
    return response;
  };
  return {
    client: createAuthClient({ baseURL, fetch: fetcher }),
    jar,
    cookieHeader,
  };
}

/** RFC 6238 (SHA-1, 6 digits, 30 s): the code an authenticator shows. */
function totp(secret: string, step = Math.floor(Date.now() / 30_000)): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(
    (bits.match(/.{8}/g) ?? []).map((byte) => Number.parseInt(byte, 2)),
  );
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac("sha1", key).update(counter).digest();
  const offset = (digest.at(-1) ?? 0) & 0x0f;
  const value = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, "0");
}

/** The sign-in code emailed to `address` (the SMTP server keeps files). */
async function emailedCode(address: string): Promise<string> {
  for (let attempt = 0; attempt < 150; attempt += 1) {
    const box = join(mailDir, address);
    const files = await readdir(box).catch(() => []);
    for (const file of files) {
      const text = await readFile(join(box, file), "utf8");
      const found = /sign-in code: (\d+)/i.exec(text)?.[1];
      if (found) return found;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no sign-in code was emailed to ${address}`);
}

/**
 * The tokens of the links to `path` emailed to `address`, oldest first;
 * waits until there are at least `count`.
 */
async function emailedTokens(
  address: string,
  path: string,
  count = 1,
): Promise<string[]> {
  const link = new RegExp(`${path}#token=(\\S+)`);
  const box = join(mailDir, address);
  for (let attempt = 0; attempt < 150; attempt += 1) {
    const files = await readdir(box).catch(() => []);
    files.sort((a, b) => Number.parseInt(a) - Number.parseInt(b));
    const tokens: string[] = [];
    for (const file of files) {
      const found = link.exec(await readFile(join(box, file), "utf8"))?.[1];
      if (found) tokens.push(found);
    }
    if (tokens.length >= count) return tokens;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${path} link was emailed to ${address}`);
}

/** The error a call throws, to match against. */
function refusal(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error("the call was not refused");
    },
    (error: unknown) => error,
  );
}

function newAccount() {
  return {
    email: `ts-${randomUUID()}@example.com`,
    password: `correct horse ${randomUUID()}`,
  };
}

async function signedUp() {
  const account = newAccount();
  const { client } = browser();
  await client.signUp.password(account);
  return account;
}

/**
 * A new account, signed in with an emailed code: registrations are limited
 * to 10 an hour per IP address, and the last test needs what is left.
 */
async function signedInByEmail() {
  const email = `ts-${randomUUID()}@example.com`;
  const { client } = browser();
  await client.signIn.emailOtp.request({ email });
  const code = await emailedCode(email);
  const result = await client.signIn.emailOtp.verify({ code });
  expect(result.status).toBe("signed_in");
  return { email, client };
}

describe("password sign-in", () => {
  it("signs up, signs in, sees the session and signs out", async () => {
    const account = await signedUp();
    const { client, cookieHeader } = browser();
    const changes: string[] = [];
    client.subscribe(() => changes.push("changed"));

    expect(await client.session()).toBeNull();
    const result = await client.signIn.password(account);
    expect(result.status).toBe("signed_in");
    if (result.status !== "signed_in") throw new Error("not signed in");
    expect(result.session.amr).toEqual(["pwd"]);

    const session = await client.session();
    expect(session?.id).toBe(result.session.id);
    const server = await getServerSession({ baseURL, cookie: cookieHeader() });
    expect(server?.id).toBe(result.session.id);

    await client.signOut();
    expect(await client.session()).toBeNull();
    expect(await getServerSession({ baseURL, cookie: null })).toBeNull();
    expect(changes).toEqual(["changed", "changed"]);
  });

  it("returns a wrong password as a typed failure", async () => {
    const account = await signedUp();
    const { client } = browser();
    const result = await client.signIn.password({
      email: account.email,
      password: "not the password",
    });
    expect(result).toMatchObject({
      status: "error",
      code: "invalid_credentials",
    });
  });

  it("throws typed errors from other calls", async () => {
    const { client } = browser();
    const error = await client.sessions.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ code: "not_authenticated", status: 401 });
  });
});

describe("email code", () => {
  it("signs a new address up and in with the emailed code", async () => {
    const email = `ts-${randomUUID()}@example.com`;
    const { client } = browser();
    await client.signIn.emailOtp.request({ email });
    const wrong = await client.signIn.emailOtp.verify({ code: "000000" });
    expect(wrong).toMatchObject({ status: "error", code: "invalid_code" });
    const code = await emailedCode(email);
    const result = await client.signIn.emailOtp.verify({ code });
    expect(result.status).toBe("signed_in");
    expect((await client.session())?.id).toBeTruthy();
  });
});

describe("second factor", () => {
  it("asks for TOTP after enrolment and signs in with a code", async () => {
    const account = await signedUp();
    const { client } = browser();
    await client.signIn.password(account);
    const enrollment = await client.factors.totp.enroll();
    expect(enrollment.uri).toMatch(/^otpauth:\/\/totp\//);
    const step = Math.floor(Date.now() / 30_000);
    await client.factors.totp.confirm({ code: totp(enrollment.secret, step) });
    await client.signOut();

    const first = await client.signIn.password(account);
    expect(first).toEqual({ status: "mfa_required", factors: ["totp"] });
    const wrong = await client.mfa.verify({ factor: "totp", code: "000000" });
    expect(wrong).toMatchObject({ status: "error", code: "invalid_code" });
    // The confirmed code cannot be used again: take the next step's.
    const code = totp(enrollment.secret, step + 1);
    const second = await client.mfa.verify({ factor: "totp", code });
    expect(second.status).toBe("signed_in");
    if (second.status !== "signed_in") throw new Error("not signed in");
    expect(second.session.amr).toEqual(expect.arrayContaining(["otp"]));
  });

  it("signs in with a backup code and removes TOTP", async () => {
    const account = await signedUp();
    const { client } = browser();
    await client.signIn.password(account);
    const enrollment = await client.factors.totp.enroll();
    await client.factors.totp.confirm({ code: totp(enrollment.secret) });
    const { codes } = await client.backupCodes.generate();
    expect(codes).toHaveLength(10);
    await client.signOut();

    const first = await client.signIn.password(account);
    expect(first).toEqual({
      status: "mfa_required",
      factors: expect.arrayContaining(["totp", "backup_codes"]),
    });
    const code = codes[0] ?? "";
    const second = await client.mfa.verify({ factor: "backup_codes", code });
    expect(second.status).toBe("signed_in");
    expect(await client.backupCodes.status()).toEqual({ remaining: 9 });

    await client.factors.totp.disable();
    await client.signOut();
    expect((await client.signIn.password(account)).status).toBe("signed_in");
  });
});

describe("sessions", () => {
  it("lists the account's sessions and revokes one", async () => {
    const account = await signedUp();
    const laptop = browser();
    const phone = browser();
    await laptop.client.signIn.password(account);
    const other = await phone.client.signIn.password(account);
    if (other.status !== "signed_in") throw new Error("not signed in");

    const sessions = await laptop.client.sessions.list();
    expect(sessions).toHaveLength(2);
    expect(
      sessions.filter((s: { current: boolean }) => s.current),
    ).toHaveLength(1);

    await laptop.client.sessions.revoke(other.session.id);
    expect(await phone.client.session()).toBeNull();
    expect(await laptop.client.sessions.list()).toHaveLength(1);
    expect(await laptop.client.sessions.revokeOthers()).toEqual({ revoked: 0 });
  });

  it("surfaces reauth_required and clears it with reauthenticate", async () => {
    const account = await signedUp();
    const { client } = browser();
    await client.signIn.password(account);
    // The app runs with AUTH_REAUTHENTICATION_MAX_AGE=5.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const error = await client.sessions.revokeOthers().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReauthRequiredError);
    expect(error).toMatchObject({ code: "reauth_required", status: 403 });

    const session = await client.reauthenticate({
      factor: "password",
      password: account.password,
    });
    expect(session.amr).toEqual(["pwd"]);
    expect(await client.sessions.revokeOthers()).toEqual({ revoked: 0 });
  });
});

describe("oauth", () => {
  it("builds the authorize URL of a provider", async () => {
    const { client } = browser();
    expect(await client.oauth.providers()).toEqual([]);
    const url = client.oauth.url("google", { returnTo: "/account" });
    expect(url).toBe(`${baseURL}/oauth/google/authorize?return_to=%2Faccount`);
    // The example app's providers are off until configured: the route is
    // there and says so.
    const response = await fetch(url, { redirect: "manual" });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      detail: { code: "oauth_provider_unknown" },
    });
  });
});

describe("password", () => {
  it("changes the password and signs in with the new one", async () => {
    const account = await signedUp();
    const { client } = browser();
    await client.signIn.password(account);
    const newPassword = `battery staple ${randomUUID()}`;
    const wrong = await refusal(
      client.password.change({
        current_password: "not the password",
        new_password: newPassword,
      }),
    );
    expect(wrong).toBeInstanceOf(AuthError);
    expect(wrong).toMatchObject({ code: "invalid_credentials", status: 401 });

    // Just signed in: the current password may be left out.
    await client.password.change({ new_password: newPassword });
    expect(await client.session()).not.toBeNull();
    await client.signOut();
    const old = await client.signIn.password(account);
    expect(old).toMatchObject({ status: "error", code: "invalid_credentials" });
    const renewed = { email: account.email, password: newPassword };
    expect((await client.signIn.password(renewed)).status).toBe("signed_in");
  });

  it("resets a forgotten password by the emailed link", async () => {
    const { email, client } = await signedInByEmail();
    const changes: string[] = [];
    client.subscribe(() => changes.push("changed"));
    await client.password.requestReset({ email });
    const [token = ""] = await emailedTokens(email, "/reset-password");
    const password = `staple battery ${randomUUID()}`;
    const bogus = await refusal(
      client.password.reset({ token: "bogus", new_password: password }),
    );
    expect(bogus).toMatchObject({ code: "invalid_reset_token", status: 400 });

    await client.password.reset({ token, new_password: password });
    expect(changes).toEqual(["changed"]);
    // Every session of the account is signed out, this one too.
    expect(await client.session()).toBeNull();
    const result = await client.signIn.password({ email, password });
    expect(result.status).toBe("signed_in");
  });
});

describe("email address", () => {
  it("verifies the address and moves to a new one by links", async () => {
    const account = await signedUp();
    // Registration emails a verification link; asking again replaces it.
    const [first = ""] = await emailedTokens(account.email, "/verify-email");
    const { client } = browser();
    await client.signIn.password(account);
    await client.email.requestVerification();
    const tokens = await emailedTokens(account.email, "/verify-email", 2);
    const replaced = await refusal(client.email.verify({ token: first }));
    expect(replaced).toMatchObject({ code: "invalid_email_token" });
    await client.email.verify({ token: tokens.at(-1) ?? "" });
    const again = await refusal(client.email.requestVerification());
    expect(again).toBeInstanceOf(AuthError);
    expect(again).toMatchObject({
      code: "email_already_verified",
      status: 409,
    });

    const newEmail = `ts-${randomUUID()}@example.com`;
    await client.reauthenticate({
      factor: "password",
      password: account.password,
    });
    await client.email.change({ new_email: newEmail });
    const [token = ""] = await emailedTokens(newEmail, "/confirm-email-change");
    await client.email.confirmChange({ token });
    const used = await refusal(client.email.confirmChange({ token }));
    expect(used).toMatchObject({ code: "invalid_email_token", status: 400 });

    await client.signOut();
    const moved = { email: newEmail, password: account.password };
    expect((await client.signIn.password(moved)).status).toBe("signed_in");
  });
});

describe("account", () => {
  it("lists the account's security events", async () => {
    const { client } = await signedInByEmail();
    const events = await client.audit.list();
    expect(events.map((event) => event.type)).toContain("sign_in_succeeded");
    expect(await client.audit.list({ limit: 1 })).toHaveLength(1);
  });

  it("lists no linked accounts and refuses to unlink one", async () => {
    const { client } = await signedInByEmail();
    expect(await client.oauth.accounts()).toEqual([]);
    const unlink = await refusal(client.oauth.unlink("google"));
    expect(unlink).toBeInstanceOf(AuthError);
    expect(unlink).toMatchObject({ code: "oauth_not_linked", status: 404 });
    // The example app's providers are off until configured.
    const link = await refusal(client.oauth.link("google"));
    expect(link).toMatchObject({ code: "oauth_provider_unknown", status: 404 });
  });
});

describe("rate limits", () => {
  it("returns 429 with Retry-After after 10 failed sign-ins", async () => {
    const account = await signedUp();
    const { client } = browser();
    const wrong = { email: account.email, password: "wrong password" };
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const result = await client.signIn.password(wrong);
      expect(result).toMatchObject({ code: "invalid_credentials" });
    }
    const limited = await client.signIn.password(account);
    expect(limited).toMatchObject({ status: "error", code: "rate_limited" });
    if (limited.status !== "error" || limited.code !== "rate_limited") {
      throw new Error("not rate limited");
    }
    expect(limited.retryAfter).toBeGreaterThan(0);
  });

  it("throws RateLimitedError with retryAfter from other calls", async () => {
    // Registrations are limited per IP (10 an hour): run this one last.
    const { client } = browser();
    let error: unknown;
    for (let attempt = 0; attempt < 11 && !error; attempt += 1) {
      error = await client.signUp
        .password(newAccount())
        .catch((e: unknown) => e);
    }
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ code: "rate_limited", status: 429 });
    expect((error as { retryAfter: number }).retryAfter).toBeGreaterThan(0);
  });
});
