"""Run pip-audit on a requirements lock, and say plainly when its service is unreachable.

pip-audit asks an online vulnerability service (PyPI's JSON API by default). Where that
service cannot be reached every dependency comes back "skipped"; that is not a pass, so this
prints AUDIT SKIPPED and why. Vulnerabilities found fail the target.
"""

from __future__ import annotations

import json
import subprocess  # nosec B404 - runs pip-audit with a fixed argv
import sys
from pathlib import Path


def main(requirements: str) -> int:
    cmd = [
        str(Path(sys.executable).with_name("pip-audit")),
        "-r",
        requirements,
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    try:
        proc = subprocess.run(  # noqa: S603  # nosec B603 - fixed argv
            cmd, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        print("pip-audit: AUDIT SKIPPED - the vulnerability service did not answer in 300 s")
        return 0
    try:
        report = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        print(proc.stderr.strip()[-2000:])
        print("pip-audit: AUDIT SKIPPED - pip-audit produced no report (service unreachable?)")
        return 0
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    if deps and not audited:
        print(
            f"pip-audit: AUDIT SKIPPED - the vulnerability service was unreachable; "
            f"none of {len(deps)} pinned packages could be checked. Run `make security-test` "
            "where PyPI's JSON API is reachable."
        )
        return 0
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"pip-audit: {dep['name']}=={dep['version']}: {ids}")
    skipped = len(deps) - len(audited)
    print(
        f"pip-audit: {len(audited)} packages audited, {len(vulnerable)} vulnerable, "
        f"{skipped} skipped"
    )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements/main.txt"))
