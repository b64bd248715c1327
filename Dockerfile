# Multi-stage build: compile in the Rust image, run as a non-root user in a slim one.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY entity entity
COPY migration migration
COPY src src
COPY templates templates
COPY static static
# Cargo.toml declares the flows bench: the manifest does not parse without it.
COPY benches benches
RUN cargo build --release --locked --bin tessera

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home tessera
COPY --from=build /src/target/release/tessera /usr/local/bin/tessera
USER tessera
WORKDIR /data
# The embedded database (/data/tessera.db) and the key-encryption key
# (/data/keys/kek) live here by default: a volume keeps them across
# containers. With PostgreSQL, Redis and TESSERA_KEK_FILE from a secret
# (`tessera keys init-kek FILE` makes one), it stays empty.
VOLUME ["/data"]
# Bound to every interface, Tessera refuses to start without TESSERA_ISSUER
# (the https URL clients use): pass it with -e.
ENV TESSERA_BIND=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 8080
# /readyz: the database and the token store answer (no curl in the image).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s CMD ["/usr/local/bin/tessera", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tessera"]
CMD ["serve"]
