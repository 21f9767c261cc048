# syntax=docker/dockerfile:1
#
# downward-webhook image: a builder stage installs the package into a virtualenv; the runtime
# stage copies only that venv onto a slim Python base and runs as a numeric non-root user, so
# Kubernetes can verify runAsNonRoot without a runAsUser in the pod spec.
#
# No Docker engine exists where this project is developed and tested: this file has never been
# built there. tests/unit/test_packaging.py and tests/chart/test_chart_image.py check its
# properties by reading it; the release workflow (.github/workflows/release.yml) builds it.
#
# Works with a read-only root filesystem: nothing is written at run time (bytecode is compiled
# at build time, PYTHONDONTWRITEBYTECODE stops further writes); the chart mounts an emptyDir
# at /tmp for anything that needs scratch space.
#
#   docker build -t REGISTRY/downward-webhook:TAG .    (docs/chart.md: "Building and publishing")

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The exact versions of the locks (scripts/lock.sh), every file checked against its hash; the
# locks cover linux/amd64 and linux/arm64. Build tools (pip, setuptools: build.lock) go into
# their own venv, so the runtime venv holds only runtime.lock. Locks first, then the code:
# editing webhook/ does not reinstall the dependencies.
COPY requirements/build.lock requirements/runtime.lock ./requirements/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes -r requirements/build.lock \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md LICENSE ./
COPY webhook ./webhook
# The package itself: a wheel built with the locked setuptools (no build isolation, so nothing
# unpinned is fetched), installed without dependencies. pip compiles the bytecode here, so the
# read-only runtime never needs to write it.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/dist . \
 && /opt/venv/bin/pip install --no-deps /tmp/dist/*.whl \
 && /opt/venv/bin/downward-webhook --help >/dev/null

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="downward-webhook" \
      org.opencontainers.image.description="Kubernetes mutating admission webhook: Downward API env vars, downwardAPI volume, kubectl-proxy ambassador" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Only the venv: no pip cache, no sources, no build tools.
COPY --from=builder /opt/venv /opt/venv
# 65532 is the conventional "nonroot" UID/GID (distroless); no passwd entry is needed.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8443
ENTRYPOINT ["downward-webhook"]
CMD ["serve"]
