"""`python -m fastapi_testbed init|doctor`: the same as the `fastapi-testbed` command."""

from fastapi_testbed.cli import main

raise SystemExit(main())
