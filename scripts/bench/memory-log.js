/**
 * Where a process's resident memory goes, over time: preload it with `--import` (through `pnpm arena --node-flags`
 * or `pnpm bench:cpu --node-flags`, next to the flags measured) and it appends one JSON line per MEMORY_LOG_INTERVAL
 * milliseconds (default 1000) to MEMORY_LOG_DIR/<pid>.jsonl (default /tmp):
 * - `rss`, `hwm`, `anon`, `file`: VmRSS, VmHWM, RssAnon and RssFile of /proc/self/status, MiB;
 * - `heap`: V8's resident heap (total_physical_size) and `spaces` each space's part of it, `used` what the spaces hold;
 * - `outsideHeap`: `anon` minus `heap`, the allocator's part (V8's compiler zones, Node's buffers, thread stacks);
 * - `zones` and `peakZones`: V8's `malloced_memory` and `peak_malloced_memory`, its compiler and parser zones.
 * `peakZones` and `hwm` only grow: the first line where they reach their last value says when the peak came.
 * JavaScript, not TypeScript: a .ts preload would load Node's type stripper into the process it measures (12 MiB).
 */
import { appendFileSync, readFileSync } from "node:fs"
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8"

const file = `${process.env.MEMORY_LOG_DIR ?? "/tmp"}/${process.pid}.jsonl`
const interval = Number(process.env.MEMORY_LOG_INTERVAL ?? 1000)
const started = performance.now()
const mib = (bytes) => Math.round(bytes / 10485.76) / 100

const statusBytes = (status, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0) * 1024

const sample = () => {
  const status = readFileSync("/proc/self/status", "utf8")
  const heap = getHeapStatistics()
  const spaces = getHeapSpaceStatistics().filter((space) => space.physical_space_size > 0)
  const anon = statusBytes(status, "RssAnon")
  appendFileSync(
    file,
    JSON.stringify({
      t: Math.round(performance.now() - started) / 1000,
      rss: mib(statusBytes(status, "VmRSS")),
      hwm: mib(statusBytes(status, "VmHWM")),
      anon: mib(anon),
      file: mib(statusBytes(status, "RssFile")),
      heap: mib(heap.total_physical_size),
      outsideHeap: mib(anon - heap.total_physical_size),
      zones: mib(heap.malloced_memory),
      peakZones: mib(heap.peak_malloced_memory),
      spaces: Object.fromEntries(spaces.map((space) => [space.space_name, mib(space.physical_space_size)])),
      used: Object.fromEntries(spaces.map((space) => [space.space_name, mib(space.space_used_size)]))
    }) + "\n"
  )
}

setInterval(sample, interval).unref()
