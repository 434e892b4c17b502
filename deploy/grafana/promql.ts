// What the dashboard test needs of PromQL and Grafana: the metric names an expression selects, and the
// expression as Prometheus gets it once Grafana has filled in its variables.

const FUNCTIONS_AND_KEYWORDS = new Set([
  // Aggregations and their modifiers, binary operators and modifiers.
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'atan2', 'offset',
  'inf', 'nan',
]);

/**
 * The metric names an expression selects: every bare identifier that is not a function call, keyword or
 * grouping label, plus `{__name__="..."}` matchers. Label matchers, strings, grouping label lists
 * (`by (a, b)`) and durations (`[5m]`, `offset 1h`) are skipped. Grafana's label_values(metric{...}, label)
 * is read as its selector.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let s = expr;
  // __name__ matchers before label matchers go.
  for (const m of s.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(m[1]);
  // Strings (label values may hold anything), then label matchers and ranges.
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  // Grouping label lists: by/without/on/ignoring/group_left/group_right ( ... ).
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  // label_values(label) names no metric; label_values(selector, label): drop the label argument.
  s = s.replace(/\blabel_values\s*\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)/g, ' ');
  s = s.replace(/\blabel_values\s*\(([^,()]*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)/g, '($1)');
  // Durations after offset, and numbers (1e3, 0.99, 0x1f).
  s = s.replace(/\boffset\s+-?[0-9a-z]+/gi, ' ').replace(/(?<![a-zA-Z_:0-9])(0x[0-9a-f]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?)/gi, ' ');
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = s.slice(m.index! + word.length);
    if (/^\s*\(/.test(after)) continue; // a function call (or an aggregation written before its argument)
    if (FUNCTIONS_AND_KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** Grafana's values for its built-in interval variables, as a dashboard test sets them. */
export interface GrafanaIntervals {
  rateInterval: string;
  interval: string;
  range: string;
}

/**
 * The expression with Grafana's variables filled in: `$__rate_interval`, `$__interval` and `$__range` by the
 * given durations, every other `$var` / `${var}` / `${var:format}` (template variables, "All" selected) by
 * `.*`.
 */
export function fillGrafanaVariables(expr: string, intervals: GrafanaIntervals): string {
  const builtIn: Record<string, string> = {
    __rate_interval: intervals.rateInterval, __interval: intervals.interval, __range: intervals.range,
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    return builtIn[name] ?? '.*';
  });
}

export interface DashboardQuery {
  /** Where it is: a panel's title and the target's refId, or a template variable's name. */
  where: string;
  expr: string;
}

interface Panel {
  title?: string;
  targets?: { refId?: string; expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows' panels too) and query variables. */
export function dashboardQueries(dashboard: {
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: string | { query?: string } }[] };
}): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (panels: Panel[] = []): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q) out.push({ where: `variable ${v.name}`, expr: q });
  }
  return out;
}
