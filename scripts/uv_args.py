"""Print, one per line, the ``uv pip install`` options that mirror this machine's pip configuration.

scripts/envs.sh installs with uv (several times faster than pip here, and far less CPU), but
uv does not read pip's configuration. Whatever pip would use (``pip config list``: files and
PIP_* variables) is passed on, so both tools install from the same places: index and extra
indexes, find-links directories, constraint files. Run with the Python whose pip to ask.
``uv_args.py cert`` prints pip's CA bundle instead (uv takes it as SSL_CERT_FILE), or nothing.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

OPTIONS = {  # pip setting -> uv option (each value of a whitespace-separated list is passed)
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def main() -> int:
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    seen: dict[str, list[str]] = {}
    for line in listed.splitlines():
        scope_key, _, raw = line.partition("=")
        key = scope_key.rsplit(".", 1)[-1]
        if key not in OPTIONS and key != "cert":
            continue
        for value in shlex.split(shlex.split(raw)[0] if raw else ""):
            values = seen.setdefault(key, [])
            if value not in values:
                values.append(value)
    if sys.argv[1:] == ["cert"]:
        for value in seen.get("cert", [])[-1:]:
            print(value)
        return 0
    for key, option in OPTIONS.items():
        values = seen.get(key, [])
        if key == "index-url":
            values = values[-1:]  # one index: the last one pip listed (environment over files)
        for value in values:
            print(option)
            print(value)
    if len(seen.get("extra-index-url", [])) or len(seen.get("find-links", [])):
        # pip takes the best match across every index; uv's default stops at the first one that has the project.
        print("--index-strategy")
        print("unsafe-best-match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
