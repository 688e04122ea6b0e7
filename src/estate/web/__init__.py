"""The web UI (a face): server-rendered pages (Jinja2), htmx for partial updates, and
one server-sent event stream per page for live progress; see docs/ui.md."""
