#!/usr/bin/env bash
# Create the project's virtual environment from the pinned lock (`make setup`).
#
# Picks a supported Python (PYTHON=... if given; else python3 if supported; else python3.11,
# python3.12, python3.13 on PATH; else a pyenv or uv install), builds $VENV with uv when present
# or pip, and on any failure removes the half-made $VENV and prints one line naming the fix.
set -uo pipefail

VENV=${VENV:-.venv}
LOCK=${LOCK:-requirements.lock}
# Every pin of the lock publishes a wheel (or is pure Python) for these; keep in step with
# requires-python in pyproject.toml (tests/test_setup.py checks both).
SUPPORTED="3.11 3.12 3.13"
SUPPORTED_TEXT="3.11, 3.12 or 3.13"

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
is_supported() { case " $SUPPORTED " in *" $1 "*) return 0 ;; esac; return 1; }

found=()   # what was tried, for the error message
PY=""
pick_python() {   # sets PY (no subshell: `found` must survive)
  local c v
  if [ -n "${PYTHON:-}" ]; then
    v=$(version_of "$PYTHON") || { found+=("PYTHON=$PYTHON (does not run)"); return 1; }
    is_supported "$v" && { PY=$PYTHON; return 0; }
    found+=("PYTHON=$PYTHON is $v"); return 1
  fi
  for c in python3 python3.11 python3.12 python3.13; do
    command -v "$c" >/dev/null 2>&1 || continue
    v=$(version_of "$c") || continue   # a pyenv shim of a version not selected does not run
    is_supported "$v" && { PY=$c; return 0; }
    found+=("$c is $v")
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $SUPPORTED; do
      c=$(pyenv root)/versions/$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -n 1)/bin/python3
      [ -x "$c" ] && { PY=$c; return 0; }
    done
  fi
  if command -v uv >/dev/null 2>&1 && c=$(uv python find ">=3.11,<3.14" 2>/dev/null); then
    PY=$c; return 0
  fi
  return 1
}

if ! pick_python; then
  tried=$(printf '%s, ' "${found[@]}"); tried=${tried%, }
  echo "error: set-up needs Python $SUPPORTED_TEXT; found: ${tried:-no python3 on PATH}." >&2
  echo "  Get one, then run \`make setup\` again (PYTHON=/path/to/python3.12 picks a given one):" >&2
  echo "    uv:    uv python install 3.12   (uv: https://docs.astral.sh/uv/)" >&2
  echo "    conda: conda env create -f environment.yml && conda activate cart-failure-replication" >&2
  echo "    system package: apt-get install python3.11-venv (Debian 12), brew install python@3.12 (macOS)" >&2
  exit 2
fi

log=$(mktemp)
cleanup_on_failure() {
  rm -rf "$VENV"
  if grep -qiE "no matching distribution|could not find a version|NewConnectionError|name resolution|Network is unreachable|Failed to fetch|dns error|error sending request|timed out" "$log"; then
    first=$(grep -m1 -iE "no matching distribution|failed to fetch|error sending request|dns error|timed out" "$log" | sed -E 's/^(ERROR|error): *//')
    echo "error: set-up needs the package index (PyPI) once, to download the pinned packages, and could not get them (${first:-no connection}); check the network (or PIP_INDEX_URL) and run \`make setup\` again. Nothing was left behind." >&2
  else
    tail -n 15 "$log" >&2
    echo "error: set-up failed (the installer's last messages are above); $VENV was removed, nothing half-made is left. Fix the cause and run \`make setup\` again." >&2
  fi
  rm -f "$log"
  exit 1
}
trap 'echo; rm -rf "$VENV" "$log"; echo "set-up interrupted: $VENV removed; run \`make setup\` again" >&2; exit 130' INT TERM

rm -rf "$VENV"   # a rebuild (the lock changed) starts clean; a failed one leaves nothing
echo "Creating $VENV with $("$PY" -c 'import sys; print(sys.executable, "(Python %d.%d.%d)" % sys.version_info[:3])') ..."
if command -v uv >/dev/null 2>&1; then
  { uv venv --quiet --python "$PY" "$VENV" &&
    VIRTUAL_ENV=$VENV uv pip sync --quiet --require-hashes "$LOCK" &&
    VIRTUAL_ENV=$VENV uv pip install --quiet --no-deps -e . ; } >"$log" 2>&1 || cleanup_on_failure
else
  if ! "$PY" -m venv "$VENV" >"$log" 2>&1; then
    rm -rf "$VENV"
    echo "error: $PY cannot create a virtual environment ($(grep -m1 -iE 'ensurepip|venv' "$log" || tail -n1 "$log")); on Debian/Ubuntu: apt-get install python3-venv (or python3.X-venv for your version)" >&2
    rm -f "$log"; exit 1
  fi
  { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK" &&
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e . ; } >"$log" 2>&1 || cleanup_on_failure
fi
rm -f "$log"
