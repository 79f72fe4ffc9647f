"""Find the Java runtime and the Maven-resolved jars the embedded services run on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from streaming_platform.config import REPO_ROOT
from streaming_platform.runtime.process import ServiceError

JVM_DIR = REPO_ROOT / "jvm"
MIN_JAVA = 17


def java_binary(env: dict[str, str] | None = None) -> str:
    """The `java` to use: $JAVA_HOME/bin/java, else `java` on PATH. Clear error when missing."""
    env = dict(os.environ) if env is None else env
    home = env.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if not candidate.is_file():
            raise ServiceError(f"JAVA_HOME={home} has no bin/java. Point JAVA_HOME at a JDK {MIN_JAVA}+.")
        return str(candidate)
    found = shutil.which("java", path=env.get("PATH"))
    if not found:
        raise ServiceError(
            f"Java not found: install a JDK {MIN_JAVA}+ (e.g. `apt-get install openjdk-17-jdk-headless`) "
            "or set JAVA_HOME."
        )
    return found


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise ServiceError(f"could not read the Java version from `{java} -version`: {out.strip()}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def require_java(env: dict[str, str] | None = None) -> str:
    java = java_binary(env)
    major = java_major(java)
    if major < MIN_JAVA:
        raise ServiceError(f"{java} is Java {major}; the embedded services need Java {MIN_JAVA}+.")
    return java


def jars(module: str) -> list[Path]:
    """Runtime jars Maven copied for ``jvm/<module>``; tells how to build them when absent."""
    lib = JVM_DIR / module / "target" / "lib"
    found = sorted(lib.glob("*.jar"))
    if not found:
        raise ServiceError(f"no jars in {lib}: run `make jars` (mvn -f jvm/pom.xml package) first.")
    return found
