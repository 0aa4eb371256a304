"""The test doubles, one module (or package) each, every HTTP one built on :mod:`doubles.http`.

- :mod:`doubles.http`: the loopback HTTP server base (threads, start/stop, body reader, JSON replies).
- :mod:`doubles.kube`: the fake Kubernetes API server (HTTP routing over a store with watches).
- :mod:`doubles.controllers`: the simulated Flux and Argo CD controllers over the fake API server.
- :mod:`doubles.git_remote`: a real git remote (``git http-backend``) with Basic auth; a recording server.
- :mod:`doubles.forge`: the GitHub pulls and GitLab merge-request APIs.
- :mod:`doubles.registry`: an OCI distribution registry with token auth.
- :mod:`doubles.mcp_server`: ``gitops-mcp serve`` run as a subprocess.
- :mod:`doubles.world`: the end-to-end setup shared by the tests and the benches.

Tests import them as ``doubles.*`` (pytest puts tests/ on ``sys.path``); the benches add tests/ to
``sys.path`` themselves.
"""
