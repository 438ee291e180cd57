# syntax=docker/dockerfile:1
# The build stages run the same commands as CI (.ci/run): `pnpm install --frozen-lockfile`, then `pnpm build`.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM --platform=linux/amd64 ${NODE_IMAGE} AS pnpm
RUN npm install --global pnpm@10.34.9
WORKDIR /app
COPY package.json pnpm-lock.yaml .npmrc ./

FROM pnpm AS build
RUN pnpm install --frozen-lockfile
COPY tsconfig.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY src ./src
RUN pnpm build

# production dependencies only: the bundle imports undici and PGlite from node_modules at run time
FROM pnpm AS deps
RUN pnpm install --frozen-lockfile --prod --ignore-scripts

FROM --platform=linux/amd64 ${NODE_IMAGE} AS runtime
# jemalloc instead of glibc's malloc: V8's compiler zones and Node's buffers come and go, and glibc kept the freed
# pages (15 MB more resident in each instance at 300 payments/s, same CPU); one arena, freed pages returned after 1 s,
# and no cache per thread (tcache:false): the caches of Node's eleven threads kept 3.4 MiB resident in an idle instance
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
  MALLOC_CONF=narenas:1,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9999
# bash's /dev/tcp instead of a second Node process, which would cost ~40 MB inside the instance's memory limit
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-9999} && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# one thread collects garbage: V8's parallel and concurrent GC helpers spent the CPU quota on the second core at the
# same time as the main thread, and the kernel stopped the whole instance for the rest of the period (the final with
# the compose limits, 5 runs each way: p99 median 5.3 ms against 6.2, throttled in 0-3 periods per instance against
# 0-8, the same CPU per payment).
# --liftoff-only: undici's HTTP parser is WebAssembly, and V8 tiering it up to its optimizing compiler took 23 MiB of
# compiler memory in the first seconds of load, the instance's peak RSS (104 MiB at 8 s of the final, 89 without).
# --no-sparkplug and a 1 MB semi-space: no baseline code beside the bytecode and a smaller young generation, each
# about 3 MiB less resident from the first minute on. With tcache:false, the final's peak RSS per instance went from
# 109.1-109.4 to 99.9-103.1 MiB; CPU per payment moved within the bench's noise (side by side: 0.90 for the three
# flags, 1.03 for tcache:false, 1.05 for all four)
CMD ["node", "--max-semi-space-size=1", "--max-old-space-size=64", "--single-threaded-gc", "--liftoff-only", "--no-sparkplug", "dist/main.js"]
