/** Time source, injected so that tests can move time (snooze wake-up, retries, sweepers). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for tests. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | string = new Date()) {
    this.current = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  set(to: Date | string): void {
    this.current = new Date(to).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * The wire format for instants: RFC 3339 UTC with `Z`, to the second, as the seed shows
 * (`2025-10-04T18:32:11Z`). Stored the same way, so text order is time order.
 */
export function toTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2})))?$/;

/** The instants the API can store and show as `YYYY-MM-DDThh:mm:ssZ`: four-digit years only. */
const FIRST_INSTANT = new Date(0).setUTCFullYear(0, 0, 1); // 0000-01-01T00:00:00Z
const LAST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysInMonth = (y: number, m: number): number => (m === 2 ? (isLeapYear(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);

/**
 * Accepts an RFC 3339 date-time (seconds and `T` optional: `2025-09-01T10:00Z`, `2025-09-01 10:00:00+02:00`)
 * or a plain date (`2025-09-01`, read as midnight UTC). Every field is range-checked against the
 * calendar, so `2025-02-30`, `2025-13-01`, `24:00:00`, a leap second and `2023-02-29` are refused
 * instead of rolling over into another day; so is an instant whose UTC year is not 0000-9999 (it
 * could not be written back in the wire format).
 */
export function parseInstant(text: string): Date | undefined {
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', z, sign, oh = '0', om = '0'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  if (Number(oh) > 23 || Number(om) > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter reads years 0-99 as 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(Number(h), Number(mi), Number(s), Number(frac.slice(0, 3).padEnd(3, '0')));
  const offsetMinutes = z || !sign ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const at = date.getTime() - offsetMinutes * 60_000;
  if (at < FIRST_INSTANT || at > LAST_INSTANT) return undefined;
  return new Date(at);
}

/** An RFC 3339 date-time with seconds (the `date-time` format), and a real instant by {@link parseInstant}. */
export const isDateTime = (text: string): boolean => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}/.test(text) && parseInstant(text) !== undefined;

/** A plain date or a date-time, as {@link parseInstant} reads them (the `date-or-date-time` format). */
export const isDateOrDateTime = (text: string): boolean => parseInstant(text) !== undefined;
