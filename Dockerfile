# The one vilna-mpc image the chart uses: `vilna-mpc operator` and `vilna-mpc sidecar` (DESIGN §5).
# It cannot be built on the development machine (no container engine); kept simple and in step
# with charts/vilna-mpc: non-root user 10001, read-only root filesystem friendly (state under
# /var/lib/vilna, a volume), PKCS#11 module path from the party's configuration.
#
#   docker build -t ghcr.io/vilna/vilna-mpc:0.1.0 .                       # HSM vendor module mounted at run time
#   docker build --build-arg SOFTHSM=1 -t vilna-mpc:dev-softhsm .          # with SoftHSM, development only

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# The native addon (cggmp/arith/native) and pkcs11js compile against Node's headers and OpenSSL.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY cggmp/arith/native ./cggmp/arith/native
# npm ci runs our install script (the arithmetic addon); pkcs11js is built the way
# scripts/ensure-setup.mjs builds it (its own install script is not allowed to run); then the
# development dependencies go.
RUN npm ci \
 && node_modules/.bin/node-gyp rebuild --directory=node_modules/pkcs11js \
 && npm prune --omit=dev
COPY . .
RUN rm -rf .ci

FROM ${NODE_IMAGE}
ARG SOFTHSM=0
RUN if [ "$SOFTHSM" = "1" ]; then apt-get update && apt-get install -y --no-install-recommends softhsm2 && rm -rf /var/lib/apt/lists/*; fi \
 && groupadd --gid 10001 vilna && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin vilna \
 && mkdir -p /var/lib/vilna && chown 10001:10001 /var/lib/vilna
WORKDIR /opt/vilna-mpc
COPY --from=build --chown=root:root /src /opt/vilna-mpc
USER 10001:10001
ENV NODE_ENV=production VILNA_STATE_DIR=/var/lib/vilna
VOLUME ["/var/lib/vilna"]
ENTRYPOINT ["node", "/opt/vilna-mpc/bin/vilna-mpc.js"]
CMD ["--help"]
