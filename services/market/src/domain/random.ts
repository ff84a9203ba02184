/**
 * A seeded pseudo-random source (mulberry32): the same seed gives the same numbers on every
 * machine and run, which is what makes the shipped dataset reproducible.
 */

/** Uniform numbers in [0, 1) and standard normal draws from one seeded stream. */
export interface Random {
  readonly uniform: () => number;
  /** A standard normal draw (Box–Muller). */
  readonly normal: () => number;
}

/** A stream of numbers fixed by `seed` (any 32-bit integer). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  const normal = () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { uniform, normal };
}
