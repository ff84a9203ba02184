/**
 * The memory allocator's settings for a service process. Bun allocates outside the JavaScript heap
 * with mimalloc (v3), which reads its options from the environment once, when the process starts:
 * a launcher (an image's `ENV`, `start:distributed`) sets them, the service cannot.
 *
 * `MIMALLOC_PURGE_HOLES=0`: mimalloc's scavenger thread no longer hands the free parts of
 * partly used pages back to the kernel (whole free pages still go back after `purge_delay`).
 * Each such purge is an `madvise` whose TLB shootdown interrupts the other core, and the next
 * allocation there faults the page back in. On the platform bench (2 cores, a paravirtualized
 * VM; 2026-12-08, interleaved runs) that was a third of portfolio's CPU per order, a fifth of
 * the gateway's and a tenth of trading's: with the setting, CPU per order at 600 orders/s went
 * from 0.32–0.36 to 0.21–0.22 ms in portfolio, 0.65–0.75 to 0.57–0.62 in trading and 0.43–0.58
 * to 0.34–0.40 in the gateway; each service's resident memory grew by 20–45 MB
 * (bench/platform/results.md).
 */
export const allocatorEnvironment: Readonly<Record<string, string>> = {
  MIMALLOC_PURGE_HOLES: "0",
};
