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

/** A quantity as an exact fraction, or why it is not one. */
function fraction(value: string): { numerator: bigint; denominator: bigint } | QuantityProblem {
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
  if (sign === '-' && numerator !== 0n) return 'negative';
  return { numerator, denominator };
}

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
  const f = fraction(value);
  if (typeof f === 'string') return f;
  if (f.numerator % f.denominator !== 0n) return 'not a whole number';
  const result = f.numerator / f.denominator;
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) return 'too large';
  return Number(result);
}

/**
 * A quantity in units of `unit` (1/1000 for CPU in millicores, 2^20 for memory in MiB), rounded up
 * as Kubernetes rounds requests up to its smallest unit: `0.5` CPU is 500 millicores, `100Mi`
 * memory is 100 MiB, `1G` is 954 MiB (953.67 rounded up).
 */
export function parseScaledQuantity(value: string | number, unit: 'milli' | 'MiB'): number | QuantityProblem {
  let f: { numerator: bigint; denominator: bigint } | QuantityProblem;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'not a quantity';
    if (value < 0) return 'negative';
    f = fraction(String(value));
  } else {
    f = fraction(value);
  }
  if (typeof f === 'string') return f;
  const scaledNumerator = unit === 'milli' ? f.numerator * 1000n : f.numerator;
  const scaledDenominator = unit === 'milli' ? f.denominator : f.denominator * 1024n * 1024n;
  const result = (scaledNumerator + scaledDenominator - 1n) / scaledDenominator;
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) return 'too large';
  return Number(result);
}
