"""``make env``: write ``.env`` from ``.env.example`` with a fresh random value for every empty
secret. An existing ``.env`` is never touched. Standard library only (runs before any venv)."""

from __future__ import annotations

import base64
import re
import secrets
import sys
from pathlib import Path

SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|ENCRYPTION|_KEY$")


def secret_value(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":  # a Fernet key is the url-safe base64 of 32 random bytes
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)  # 43 characters of [A-Za-z0-9_-]: safe in URLs and JSON


def render(example: str) -> str:
    lines = []
    for line in example.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)=$", line)
        if m and SECRET.search(m.group(1)):
            line = f"{m.group(1)}={secret_value(m.group(1))}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    target = root / ".env"
    if target.exists():
        print(f"{target} exists: left as it is (delete it to generate new secrets)")
        return 0
    target.write_text(render((root / ".env.example").read_text()))
    target.chmod(0o600)
    print(f"wrote {target} with random secrets (mode 600)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
