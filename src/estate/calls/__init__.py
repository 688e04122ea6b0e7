"""Calling plugins: process specs, connection tests, plugin API routes, and what a
call brings back (its log, with secrets masked, and the events the plugin published).

Jobs (``estate.jobs``) and the API's synchronous routes both call plugins through
this package; it sits above the registry, the inventory and the runtime.
"""
