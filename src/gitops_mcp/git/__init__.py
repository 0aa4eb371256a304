"""The git seam: everything that touches git goes through this package (GitPython inside)."""
