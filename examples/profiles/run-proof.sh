#!/usr/bin/env bash
# Prove that this suite is order-independent and parallel: shuffled under several
# pytest-randomly seeds, then split across two pytest-xdist workers. Stops at the first failure.
#
#   examples/profiles/run-proof.sh                                                   # SQLite
#   examples/profiles/run-proof.sh --testbed-db-url postgresql://postgres@127.0.0.1:5432/
#   examples/profiles/run-proof.sh --testbed-db-url mysql://root@127.0.0.1:3306/
#
# Any argument is passed through to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."  # the repository root, whose venv has the plugin, pytest-randomly and xdist

# Seeds chosen so that each "exists"/"absent" pair runs in both orders (see README.md).
seeds=(1 2 3)

run() {
    echo "+ pytest examples/profiles $*"
    uv run pytest "$here" -v -p randomly "$@"
}

for seed in "${seeds[@]}"; do
    run --randomly-seed="$seed" "$@"
done
run -n 2 --randomly-seed=4 "$@"
echo "run-proof: all runs passed"
