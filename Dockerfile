# The booking-http server in a container. docs/deploy.md ("Containers") explains how to build
# and run it; compose.yaml runs two of them on PostgreSQL behind nginx.
#   docker build -t booking-http .

FROM rust:1.95-slim-bookworm AS build
# SQLite, libpq and OpenSSL are compiled from source into the binary (README, "Set up"): the
# image has the C compiler; OpenSSL's build needs make and Perl as well.
# Debian's stable release only takes security fixes, so its current versions are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The README's build command. The cache mounts keep downloaded crates and compiled
# dependencies between builds, so the binary is copied out of target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p booking-http \
    && cp target/release/booking-http /usr/local/bin/booking-http

FROM debian:bookworm-slim
# curl for the HEALTHCHECK (the binary has no probe of its own); ca-certificates for TLS to a
# managed PostgreSQL that verifies the server against public CAs (sslrootcert=system).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 booking \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /data \
        --shell /usr/sbin/nologin booking \
    && mkdir /data \
    && chown booking:booking /data
COPY --from=build /usr/local/bin/booking-http /usr/local/bin/booking-http

# Listen on every interface of the container, keep the SQLite database in the volume, and let
# the built-in OpenSSL (which looks in /usr/local/ssl) find Debian's CA certificates.
ENV BOOKING_HOST=0.0.0.0 \
    PORT=5000 \
    DATABASE_URL=sqlite:///data/appointments.db \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 5000

# /healthz answers 200 while the process serves, whether or not the database is reachable
# (/readyz is the one that follows the database). The start period covers a server waiting
# for another one's PostgreSQL migrations (up to 60 seconds).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${PORT}/healthz\" || exit 1"]

# SIGTERM (docker stop) finishes the requests in flight; open streams are cut after 30 s.
ENTRYPOINT ["booking-http"]
