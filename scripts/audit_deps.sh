#!/usr/bin/env bash
# Check every pinned package (constraints.txt, the whole locked set) for known vulnerabilities with pip-audit,
# which asks PyPI's JSON API for the advisories of each release.
#   scripts/audit_deps.sh                 fail on a known vulnerability, and when any package cannot be audited
#   scripts/audit_deps.sh --if-reachable  the same, except that it says so and passes when that API is unreachable
#                                         (a machine that reaches PyPI's package index but not that API)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

probe='
import sys, requests
# The per-release URL pip-audit asks, for the first pinned package.
name, version = next(line.split("==") for line in open("constraints.txt") if "==" in line and line[0] != "#")
url = f"https://pypi.org/pypi/{name}/{version.strip()}/json"
try:
    answer = requests.get(url, timeout=20)
    ok = answer.status_code == 200 and "vulnerabilities" in answer.json()
    detail = f"{url}: HTTP {answer.status_code}"
except Exception as exc:
    ok, detail = False, f"{url}: {type(exc).__name__}: {exc}"
print(detail)
sys.exit(0 if ok else 1)
'
if ! detail=$("$BIN/python" -c "$probe" 2>&1); then
  echo "Dependency audit NOT RUN: PyPI's per-release JSON API (https://pypi.org/pypi/<package>/<version>/json),"
  echo "where pip-audit reads known vulnerabilities, does not answer here ($detail)."
  [ "${1:-}" = --if-reachable ] && exit 0
  exit 1
fi
# --strict: a package that could not be audited fails the run instead of passing silently.
"$BIN/pip-audit" --strict --no-deps --disable-pip --progress-spinner off -r constraints.txt
