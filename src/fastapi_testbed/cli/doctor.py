"""`fastapi-testbed doctor`: what in a project's tests the plugin replaces; its environment."""

from __future__ import annotations

from pathlib import Path

from fastapi_testbed.cli.checks import check_environment
from fastapi_testbed.cli.findings import find_all
from fastapi_testbed.cli.messages import DOCTOR_FOUND, CliError
from fastapi_testbed.cli.patterns import fix_tests, scan_tests

__all__ = ["run_doctor"]


def run_doctor(root: Path, *, fix: bool, db_url: str | None) -> int:
    root = root.resolve()
    print(f"fastapi-testbed doctor in {root}")
    findings = find_all(root)
    if fix:
        problems, changed = fix_tests(root)
        if changed:
            print("\nFixed (the safe edits; `git diff` shows them):")
            for path in changed:
                state = "" if path.exists() else " (removed: nothing was left in it)"
                print(f"  {path.relative_to(root)}{state}")
        else:
            print("\nNothing to fix safely.")
    else:
        problems = scan_tests(root)
    print(f"\nTests ({len(findings.test_files)} file(s) read):")
    if not problems:
        print("  nothing the plugin replaces, nothing broken on current libraries")
    for problem in problems:
        print("  " + problem.render(root).replace("\n", "\n  "))
    checks = check_environment(root, findings, db_url)
    print("\nEnvironment:")
    for check in checks:
        print(check.render())
    errors = [c for c in checks if not c.ok and not c.warning]
    count = len(problems) + len(errors)
    if count:
        fixable = sum(1 for problem in problems if problem.fixable)
        raise CliError(DOCTOR_FOUND.format(count=count, root=root, fixable=fixable))
    print("\ndoctor: nothing to change.")
    return 0
