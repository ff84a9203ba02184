# One image per service: docker build --build-arg SERVICE=market .  (compose.yaml sets SERVICE for each)
FROM oven/bun:1.4.5 AS base
WORKDIR /app
COPY package.json bun.lock ./
COPY patches ./patches
COPY packages ./packages
COPY services ./services
COPY sdk ./sdk
COPY tools ./tools
COPY platform ./platform
RUN bun install --frozen-lockfile --production

FROM base AS service
ARG SERVICE
ENV SERVICE=${SERVICE} NODE_ENV=production HOST=0.0.0.0 HTTP_PORT=8080 GRPC_PORT=8081
# The kit's allocator settings (packages/kit/src/allocator.ts; platform/compose.test.ts checks them).
ENV MIMALLOC_PURGE_HOLES=0
EXPOSE 8080 8081
USER bun
CMD ["sh", "-c", "exec bun run services/${SERVICE}/src/main.ts"]
