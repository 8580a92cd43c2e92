# gatehouse: Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first (cached layer). Dev dependencies (tests, the npm-shipped Node) are not needed:
# the image's own Node is 24.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY views ./views
COPY config ./config
COPY examples/demo-portal ./examples/demo-portal

# Config is mounted at /etc/gatehouse; state (SQLite, audit log, outbox) lives in /var/lib/gatehouse.
RUN groupadd --system gatehouse && useradd --system --gid gatehouse --home /var/lib/gatehouse gatehouse \
 && mkdir -p /etc/gatehouse /var/lib/gatehouse && chown gatehouse:gatehouse /var/lib/gatehouse
USER gatehouse
WORKDIR /var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]

EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/.gatehouse/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/gatehouse.js"]
CMD ["serve", "--config", "/etc/gatehouse/gatehouse.yaml"]
