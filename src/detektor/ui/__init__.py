"""The web UI: server-rendered pages (Jinja2, vendored htmx) over the JSON API's functions."""
