"""The stack test: deploy/compose.yml run for real in containers (scripts/stack-test)."""
