# syntax=docker/dockerfile:1
# fcm-server: one image for every role (serve, worker, migrate, create-client, ...).
#   docker build -t fcm-server .
#   docker run --env-file .env fcm-server serve

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile names the workspace (the SDK): npm ci needs its package.json, not its sources.
COPY packages/client/package.json ./packages/client/
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
# The dashboard bundle (dist/dashboard) is built here too: the image serves it at /dashboard.
COPY dashboard ./dashboard
# It calls the API through the SDK's sources (packages/client/src).
COPY packages/client/src ./packages/client/src
COPY scripts/build-dashboard.ts ./scripts/
RUN npm run build

FROM node:24-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
# --max-semi-space-size=16: V8 sizes its young generation from the memory it sees (up to 2 × 64 MB); 16 MB
# semi-spaces keep a server's RSS about 100 MB lower at the same throughput (docs/deployment.md#memory).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# No src/ in the image: bin/fcm-server.js runs the compiled dist/.
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/api/v1/health/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/fcm-server.js"]
CMD ["serve"]
