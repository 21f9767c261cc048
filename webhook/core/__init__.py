"""The pure core: annotations in, JSON Patch out.

Nothing here imports FastAPI, a Kubernetes client, the file system or the clock; every function
works on plain dicts and frozen dataclasses, so it can be tested alone and shared by the
server and the CLI. The steps are: ``annotations`` (decide), ``plan`` (what to add, what to
skip and why), ``patch`` (JSON Patch operations), tied together by ``admission``.
"""
