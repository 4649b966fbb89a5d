/**
 * Python's `f"{x:.Nf}"`, so printed scores read digit for digit as sacreBLEU prints them. JavaScript's
 * `toFixed` rounds an exact tie (a double such as 0.125 that lies exactly halfway) up; Python rounds it
 * to the even digit. Every other value rounds the same way in both.
 */
export function formatFixed(value: number, digits: number): string {
  const scale = 10 ** digits;
  const scaled = value * scale;
  // A tie is exactly representable, so the product is exact and lands on k + 0.5.
  if (Number.isFinite(scaled) && Math.abs(scaled) < 2 ** 52 && Number.isInteger(scaled - 0.5)) {
    const lower = Math.floor(scaled);
    const even = lower % 2 === 0 ? lower : lower + 1;
    return (even / scale).toFixed(digits);
  }
  return value.toFixed(digits);
}
