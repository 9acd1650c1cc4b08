#!/usr/bin/env bash
# Prove that this suite is order-independent and parallel: shuffled under several
# pytest-randomly seeds, then split across two pytest-xdist workers. Exits non-zero on any failure.
#
#   examples/profiles/run-proof.sh                                                   # SQLite
#   examples/profiles/run-proof.sh --testbed-db-url postgresql://postgres@127.0.0.1:5432/
#   examples/profiles/run-proof.sh --testbed-db-url mysql://root@127.0.0.1:3306/
#
# Every argument is passed through to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."  # the repository root, whose venv has the plugin, pytest-randomly and xdist

# Five pytest processes start here: cache their bytecode outside the tree, even where the
# environment sets PYTHONDONTWRITEBYTECODE, so that only the first one pays for compiling.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-${TMPDIR:-/tmp}/fastapi-testbed-pycache}"

# Each pair: a test that writes a profile, and one that finds none. Between them, the seeds must
# run every pair in both orders; this is checked below, so a change in pytest-randomly's
# shuffling cannot quietly weaken the proof.
pairs=("test_create_profile test_rollbacks_between_functions"
    "test_api_create_profile test_client_rollbacks")
seeds=(1 3 5)

run() {  # the output goes to stdout for the caller and, a copy, to stderr for the reader
    echo "+ pytest examples/profiles -p randomly $*" >&2
    local output status=0
    output="$(uv run pytest "$here" -v -p randomly "$@")" || status=$?
    printf '%s\n' "$output" >&2  # not `tee /dev/stderr`: that truncates a log stderr points at
    printf '%s\n' "$output"
    return "$status"
}

orders=()
for seed in "${seeds[@]}"; do
    output="$(run --randomly-seed="$seed" "$@")"
    orders+=("$(grep -o '::test_[a-z0-9_]*' <<<"$output" | tr '\n' ' ')")
done

for pair in "${pairs[@]}"; do
    read -r writer reader <<<"$pair"
    seen_before=no seen_after=no
    for order in "${orders[@]}"; do
        [[ $order == *"::$writer "*"::$reader "* ]] && seen_before=yes
        [[ $order == *"::$reader "*"::$writer "* ]] && seen_after=yes
    done
    if [[ $seen_before != yes || $seen_after != yes ]]; then
        echo "run-proof: seeds ${seeds[*]} never ran $reader both before and after $writer;" \
            "pick other seeds" >&2
        exit 1
    fi
done

run -n 2 --randomly-seed=2 "$@" >/dev/null
echo "run-proof: passed in every order (seeds ${seeds[*]}) and on two workers" >&2
