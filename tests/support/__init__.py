"""Test helpers: real servers and processes started by the tests themselves."""
