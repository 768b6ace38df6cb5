# Tessera image: `tessera scheduler` (extender + webhook), `tessera node-agent` and
# `tessera install-hook`, used by the Helm chart in
# deploy/helm/tessera. Not built in this repository's CI (no container runtime there).
#
#   docker build -t ghcr.io/tessera/tessera:0.1.0 .
#   docker run --rm ghcr.io/tessera/tessera:0.1.0 scheduler --help

# --- build: TypeScript to dist/, the enforcement library (needs gcc and make), the dashboard ---
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY native ./native
# scripts/build-ui.ts bundles the dashboard into dist/ui.
COPY scripts/build-ui.ts ./scripts/build-ui.ts
RUN npm run build

# --- runtime: production dependencies and the compiled output only --------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# The device plugin API, which the node agent loads at run time (found beside the nearest package.json).
COPY proto ./proto
COPY --from=build /src/native/build/release/libtessera.so ./native/build/release/libtessera.so
# Numeric, so the kubelet can check runAsNonRoot; the chart runs it as 65532 too.
USER 65532:65532
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
