# ecr-sweeper as a container image: `docker run --rm -v "$PWD:/work" IMAGE plan ...`.
# The project's .gitlab-ci.yml builds it on every version tag and pushes it to the project's
# container registry as $CI_REGISTRY_IMAGE:<tag>; the GitLab template runs its jobs in it.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
# Every dependency at the version constraints.txt pins; the package itself from this tree.
RUN python -m venv /opt/ecr-sweeper \
    && /opt/ecr-sweeper/bin/pip install --constraint constraints.txt . \
    && /opt/ecr-sweeper/bin/pip uninstall --yes pip setuptools wheel \
    && /opt/ecr-sweeper/bin/ecr-sweeper --version

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/ecr-sweeper /opt/ecr-sweeper
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/sweeper sweeper \
    && install -d -o sweeper -g sweeper /work
ENV PATH=/opt/ecr-sweeper/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["ecr-sweeper"]
CMD ["--help"]
