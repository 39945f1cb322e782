# bcjourney's local runner in a container: the same `bcjourney` command line as `make setup` installs
# (README: pip install -c constraints.txt -e ".[local]"), on Python 3.12 like the Lambda functions.
#
#   docker build -t bcjourney .
#   docker run --rm -v "$PWD/demo:/data" bcjourney generate --out /data/landing --days 7
#   docker run --rm -v "$PWD/demo:/data" bcjourney run --landing /data/landing --lake /data/lake
#   docker run --rm -v "$PWD/demo:/data" bcjourney query --lake /data/lake athena_queries/04_registration_delay_distribution.sql
#   docker run --rm -v "$PWD/demo:/data" bcjourney report --lake /data/lake --out /data/report
#
# Add --user "$(id -u):$(id -g)" to get files owned by you instead of root on the mounted folder.
# Not built or run in CI: the development machine has no Docker daemon, so this file is kept deliberately
# conventional (official slim base, pinned dependencies, no build stage). The Lambda functions do not use
# it: they deploy as zip + layers with SAM (see docs/pipeline.md for the container-image alternative).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app

# Dependencies first (cached while only code outside the package changes): what the editable install needs.
COPY pyproject.toml constraints.txt README.md ./
COPY layers/ layers/
COPY tools/ tools/
RUN pip install -c constraints.txt -e ".[local]"

# The rest: athena_queries/ (used by `query` and `report`), events/, docs.
COPY . .

ENTRYPOINT ["bcjourney"]
CMD ["--help"]
