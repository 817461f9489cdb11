#!/usr/bin/env bash
# Rewrites README.md's usage block (between <!-- usage:start --> and <!-- usage:end -->) from
# `portowner --help`. Run it after changing a flag or its help text; `cargo test` fails until
# the two agree. The rewriting is done by tests/readme.rs, so the block's layout lives in one
# place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORTOWNER_SYNC_README=1 cargo test --quiet --test readme
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git --no-pager diff --stat -- README.md
fi
