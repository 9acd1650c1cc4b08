"""The `fastapi-testbed` command: `init` writes [tool.testbed], `doctor` checks tests and setup.

    fastapi-testbed init            # find the app and schema, write the table, run the suite
    fastapi-testbed doctor --fix    # remove conftest patterns the plugin replaces

Also ``python -m fastapi_testbed``. A failure prints one message and exits with 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi_testbed.cli.messages import NOT_A_FOLDER, CliError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastapi-testbed",
        description="Set up fastapi-testbed in an existing FastAPI project.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = commands.add_parser(
        "init",
        help="find the app, schema and settings; write [tool.testbed]; run the suite",
        description="Find the FastAPI app, the schema (alembic.ini or the models' metadata) and "
        "the settings the app needs; write [tool.testbed] into pyproject.toml (showing the "
        "diff first), a first test when there is none, and run the suite.",
    )
    init.add_argument("path", nargs="?", default=".", help="the project's folder (default: .)")
    init.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="write without asking; take the most likely choice where two fit (and say so)",
    )
    init.add_argument("--dry-run", action="store_true", help="show what would be written")
    init.add_argument("--no-run", action="store_true", help="do not run the suite afterwards")
    init.add_argument(
        "--db-url",
        metavar="URL",
        help="run the suite on this server "
        "(--testbed-db-url), e.g. postgresql://postgres@127.0.0.1:5432/",
    )
    doctor = commands.add_parser(
        "doctor",
        help="list test patterns the plugin replaces or that are broken; check the setup",
        description="List each pattern in the project's tests and conftest.py files that the "
        "plugin makes unnecessary or that current libraries broke (file, line, why, what "
        "replaces it), and check drivers, async plugins and the database server.",
    )
    doctor.add_argument("path", nargs="?", default=".", help="the project's folder (default: .)")
    doctor.add_argument("--fix", action="store_true", help="apply the safe fixes")
    doctor.add_argument("--db-url", metavar="URL", help="the test database server to check")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    root = Path(arguments.path).resolve()
    name = f"fastapi-testbed {arguments.command}"
    try:
        if not root.is_dir():
            raise CliError(NOT_A_FOLDER.format(path=root))
        if arguments.command == "init":
            from fastapi_testbed.cli.init import run_init

            pytest_args = ["--testbed-db-url", arguments.db_url] if arguments.db_url else []
            return run_init(
                root,
                yes=arguments.yes,
                run=not arguments.no_run,
                dry_run=arguments.dry_run,
                pytest_args=pytest_args,
            )
        from fastapi_testbed.cli.doctor import run_doctor

        return run_doctor(root, fix=arguments.fix, db_url=arguments.db_url)
    except CliError as exc:
        sys.stdout.flush()
        print(f"\n{name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; nothing more was written.", file=sys.stderr)
        return 130
