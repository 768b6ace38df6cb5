/**
 * Kubernetes resource quantities for extended resources. Extended resources (`nvidia.com/gpu`,
 * `nvidia.com/gpumem`, …) must be whole numbers, so this accepts the quantity grammar
 * (`3000`, `3k`, `4Gi`, `1e3`) but only values that are integers.
 */

const SUFFIX: Readonly<Record<string, bigint>> = {
  '': 1n,
  k: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  P: 1000n ** 5n,
  E: 1000n ** 6n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};

const QUANTITY = /^([+-]?)(\d+)(?:\.(\d+))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)|[eE]([+-]?\d+))?$/;

/** Why a quantity was refused, for the caller's error message. */
export type QuantityProblem = 'not a quantity' | 'not a whole number' | 'negative' | 'too large';

/**
 * Parses a quantity into a non-negative safe integer, or says why it cannot.
 * Numbers (as the API server returns them in some clients) are accepted too.
 */
export function parseWholeQuantity(value: string | number): number | QuantityProblem {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'not a quantity';
    if (!Number.isInteger(value)) return 'not a whole number';
    if (value < 0) return 'negative';
    return Number.isSafeInteger(value) ? value : 'too large';
  }
  const m = QUANTITY.exec(value.trim());
  if (!m) return 'not a quantity';
  const [, sign = '', whole = '0', fraction = '', suffix, exponent] = m;
  let numerator = BigInt(whole + fraction);
  let denominator = 10n ** BigInt(fraction.length);
  if (suffix === 'm') denominator *= 1000n;
  else if (suffix) numerator *= SUFFIX[suffix] ?? 1n;
  if (exponent !== undefined) {
    const e = Number(exponent);
    if (Math.abs(e) > 30) return 'too large';
    if (e >= 0) numerator *= 10n ** BigInt(e);
    else denominator *= 10n ** BigInt(-e);
  }
  if (numerator % denominator !== 0n) return 'not a whole number';
  const result = numerator / denominator;
  if (sign === '-' && result !== 0n) return 'negative';
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) return 'too large';
  return Number(result);
}
