import { describe, expect, it } from 'vitest';
import { dashboardQueries, fillGrafanaVariables, metricNames } from './promql.js';

describe('metricNames', () => {
  it.each([
    ['up', ['up']],
    ['up{job="hotpath"} == 0', ['up']],
    ['sum by (le) (rate(hotpath_runqueue_latency_seconds_bucket{instance=~"$instance"}[$__rate_interval]))', ['hotpath_runqueue_latency_seconds_bucket']],
    ['histogram_quantile(0.99, sum without (pod) (rate(a_bucket[5m] offset 1h)))', ['a_bucket']],
    ['sum(rate(x_total[5m])) by (job, instance) / on (instance) group_left (version) build_info', ['build_info', 'x_total']],
    ['rate(a[1m]) and on (job) b > bool 0 unless c or d', ['a', 'b', 'c', 'd']],
    ['instance:hotpath_x:p99_rate5m > 0.05', ['instance:hotpath_x:p99_rate5m']],
    ['{__name__="named_metric", le="+Inf"}', ['named_metric']],
    ['count_values("value", m) + topk(3, n) - 1e3 * -Inf', ['m', 'n']],
    ['rate(m{label="sum(by) {x} [5m]"}[5m:1m])', ['m']],
    ['label_values(hotpath_info{job=~"$job"}, instance)', ['hotpath_info']],
    ['label_values(instance)', []],
  ])('%s', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe('fillGrafanaVariables', () => {
  it('fills the built-in intervals and selects every value of template variables', () => {
    expect(fillGrafanaVariables('rate(m{a=~"$instance", b=~"${device}", c=~"${job:regex}"}[$__rate_interval]) + increase(m[$__range]) + x[${__interval}]',
      { rateInterval: '30s', interval: '5s', range: '1m' }))
      .toBe('rate(m{a=~".*", b=~".*", c=~".*"}[30s]) + increase(m[1m]) + x[5s]');
  });
});

describe('dashboardQueries', () => {
  it('finds the targets of panels, of rows\' panels and query variables', () => {
    expect(dashboardQueries({
      panels: [{ title: 'a', targets: [{ refId: 'A', expr: 'x' }] }, { title: 'row', panels: [{ title: 'b', targets: [{ refId: 'B', expr: 'y' }] }] }],
      templating: { list: [{ name: 'v', type: 'query', query: { query: 'label_values(z, l)' } }, { name: 'ds', type: 'datasource', query: 'prometheus' }] },
    })).toEqual([
      { where: 'panel "a" A', expr: 'x' }, { where: 'panel "b" B', expr: 'y' }, { where: 'variable v', expr: 'label_values(z, l)' },
    ]);
  });
});
