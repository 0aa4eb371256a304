# gitops-mcp: streamable HTTP on port 8000, as a non-root user, with git installed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/gitops-mcp \
 && /opt/gitops-mcp/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 gitops \
 && mkdir -p /work && chown gitops:gitops /work
COPY --from=build /opt/gitops-mcp /opt/gitops-mcp
ENV PATH=/opt/gitops-mcp/bin:$PATH \
    GITOPS_MCP_ALLOWED_ROOTS=/work \
    GITOPS_MCP_STATE_DIR=/home/gitops/.local/state/gitops-mcp \
    GITOPS_MCP_CACHE_DIR=/home/gitops/.cache/gitops-mcp
USER gitops
WORKDIR /work
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# Binding 0.0.0.0 requires GITOPS_MCP_AUTH_TOKEN (the server refuses to start without it).
ENTRYPOINT ["gitops-mcp", "serve"]
CMD ["--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
