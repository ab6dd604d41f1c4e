"""``detektor run``: every stage in one process, on the in-memory bus and a SQLite store."""
