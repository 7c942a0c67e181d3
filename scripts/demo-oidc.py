"""Start the development OpenID provider for scripts/demo (DEMO_OIDC=1).

Writes a config for ``tests/oidc_provider/op.mjs`` (npm ``oidc-provider``:
any login name is an account, ``<name>@example.com``, verified) with a
fresh RSA key and client secret, starts it, and prints the ``export``
lines that point the app's generic OIDC provider at it. The provider
stops when this process's stdin closes.
"""

import json
import secrets
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[1]
OP_DIR = ROOT / "tests" / "oidc_provider"


def main() -> None:
    app_url, port = sys.argv[1], int(sys.argv[2])
    issuer = f"http://127.0.0.1:{port}"
    client_id, client_secret = "aegistry-demo", secrets.token_urlsafe(32)
    key = RSAKey.generate_key(2048, parameters={"kid": "demo", "use": "sig"})
    config = {
        "issuer": issuer,
        "port": port,
        "clients": [
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [f"{app_url}/auth/oauth/oidc/callback"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
        ],
        "jwks": {"keys": [key.as_dict(private=True)]},
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "op.json"
        path.write_text(json.dumps(config))
        provider = subprocess.Popen(
            ["node", "op.mjs", str(path)],
            cwd=OP_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert provider.stdout is not None
        if "listening" not in provider.stdout.readline():
            sys.exit("the OpenID provider did not start")
        for name, value in {
            "AUTH_OAUTH_OIDC_ISSUER": issuer,
            "AUTH_OAUTH_OIDC_CLIENT_ID": client_id,
            "AUTH_OAUTH_OIDC_CLIENT_SECRET": client_secret,
        }.items():
            print(f"export {name}={shlex.quote(value)}", flush=True)
        print("ready", flush=True)
        try:
            sys.stdin.read()  # until scripts/demo exits
        except KeyboardInterrupt:
            pass
        finally:
            provider.terminate()
            provider.wait(10)


if __name__ == "__main__":
    main()
