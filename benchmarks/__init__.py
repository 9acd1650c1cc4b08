"""The speed benchmark of fastapi-testbed: run it with ``uv run python benchmarks/run.py``.

app.py       the FastAPI + SQLAlchemy app every suite tests (one app, generated into each suite)
patterns.py  the ways of isolating tests that are compared, each as the conftest.py it needs
suites.py    the generated pytest projects: which tests, which conftest, which options
servers.py   the databases (SQLite, PostgreSQL, MariaDB): URLs per driver, create and drop
measure.py   one pytest process: wall time, pytest's per-test durations, time to the first test
timing.py    the pytest plugin copied into each suite that notes those durations
results.py   the measurements, the goals of issue 13 as ratios, and the Markdown tables
main.py      the command line and the order of the runs (interleaved rounds)
"""
