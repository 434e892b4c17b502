// Human-readable values for tooltips and subtitles. No toLocaleString: output must not depend on locale.

function groupThousands(n: number): string {
  const [int, frac] = String(n).split('.');
  const sign = int.startsWith('-') ? '-' : '';
  const digits = sign ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + grouped + (frac !== undefined ? `.${frac}` : '');
}

function trim(n: number, digits: number): string {
  return n.toFixed(digits).replace(/\.?0+$/, '');
}

/** formatValue shows a value in its pprof unit: nanoseconds as ns/µs/ms/s, bytes as B/KiB/MiB/GiB. */
export function formatValue(value: number, unit = 'count'): string {
  const abs = Math.abs(value);
  switch (unit) {
    case 'nanoseconds': {
      if (abs >= 1e9) return `${trim(value / 1e9, 2)} s`;
      if (abs >= 1e6) return `${trim(value / 1e6, 2)} ms`;
      if (abs >= 1e3) return `${trim(value / 1e3, 2)} µs`;
      return `${trim(value, 2)} ns`;
    }
    case 'microseconds': return formatValue(value * 1e3, 'nanoseconds');
    case 'milliseconds': return formatValue(value * 1e6, 'nanoseconds');
    case 'seconds': return formatValue(value * 1e9, 'nanoseconds');
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let v = value;
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      return i === 0 ? `${groupThousands(value)} B` : `${trim(v, 2)} ${units[i]}`;
    }
    case 'count':
    case 'samples':
    case '':
      return `${groupThousands(Number(trim(value, 3)))} ${Math.abs(value) === 1 ? 'sample' : 'samples'}`;
    default:
      return `${groupThousands(Number(trim(value, 3)))} ${unit}`;
  }
}

/** formatPercent: two decimals, e.g. 12.34%. */
export function formatPercent(part: number, total: number): string {
  return `${total > 0 ? ((100 * part) / total).toFixed(2) : '0.00'}%`;
}
