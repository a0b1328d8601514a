.PHONY: demo test lint typecheck format bench docs

demo:  ## install, load the demo data once, serve on http://127.0.0.1:8000
	./scripts/demo

test:  ## install test dependencies and run the whole suite (SQLite and PostgreSQL)
	./scripts/test

lint:
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

typecheck:
	.venv/bin/mypy

format:
	.venv/bin/ruff format src tests benchmarks
	.venv/bin/ruff check --fix src tests benchmarks

bench:  ## the write-path and API benchmarks (SQLite and PostgreSQL)
	.venv/bin/python -m benchmarks.write_path
	.venv/bin/python -m benchmarks.api_create
	.venv/bin/python -m benchmarks.web_pages

docs:
	.venv/bin/python -m plumb.core.settings > docs/settings.md
