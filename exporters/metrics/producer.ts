// HotpathMetricProducer: turns the collector's plain metric data into OTel metric data at every collect.
//
// OTel JS has no API to record pre-aggregated buckets, so instead of instruments this is a MetricProducer
// (registered on the reader through `metricProducers`) that builds cumulative HISTOGRAM/SUM/GAUGE data
// points straight from the kernel's cumulative counters. Nothing is stored between collects: the kernel
// maps are the state, so values are cumulative and never reset on scrape.
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { ExporterError, ExporterErrorCodes } from '../errors.js';
import {
  DEFAULT_BUCKET_LAYOUT,
  checkLayout,
  mergeHistograms,
  toExplicitHistogram,
  type Log2BucketLayout,
  type Log2Histogram,
} from './log2-histogram.js';

/** One labelled histogram series. Attribute names must be Prometheus label names other than `le`. */
export interface HistogramSeries {
  attributes: Readonly<Record<string, string>>;
  histogram: Log2Histogram;
}

/** Cumulative run statistics of one BPF program (`bpftool prog show` run_time_ns / run_cnt). */
export interface ProgramStats {
  program: string;
  runTimeNs: bigint | number;
  runCount: bigint | number;
}

export interface AgentInfo {
  version: string;
  kernel: string;
}

/**
 * What the collector provides. Every method is called at every collect (scrape), must be cheap and
 * synchronous, and returns cumulative values. Return [] / {} for what is not running: the metric is then
 * left out of the exposition rather than shown empty.
 */
export interface MetricsSource {
  /** hotpath_runqueue_latency_seconds: wakeup to running; usually one series without attributes. */
  runqueueLatency(): HistogramSeries[];
  /** hotpath_block_io_latency_seconds: issue to completion; attributes `device` and `operation`. */
  blockIoLatency(): HistogramSeries[];
  /** hotpath_samples_lost_total: lost samples by reason (e.g. `stack_collision`, `missing_stack`). */
  samplesLost(): Readonly<Record<string, bigint | number>>;
  /** hotpath_drain_duration_seconds: time each drain of the kernel maps took (see Log2Recorder). */
  drainDurations(): HistogramSeries[];
  /** hotpath_bpf_program_run_{seconds,runs}_total; [] unless kernel.bpf_stats_enabled=1. */
  programStats(): ProgramStats[];
  /** hotpath_info{version,kernel} 1. */
  info(): AgentInfo;
  /** hotpath_program_attached{program}: 1 attached, 0 selected but failed to attach. */
  programsAttached?(): Readonly<Record<string, boolean>>;
  /** The user-stack unwinder's self-metrics; undefined when it is not running. */
  unwinder?(): UnwinderStats | undefined;
  /** hotpath_windows_dropped_total{profile,reason}: profile windows that are gone, by why. */
  windowsDropped?(): readonly WindowsDropped[];
  /**
   * hotpath_symbolizer_gave_up_total{reason}: inputs the symbolizer refused, cut or could not read (a file that
   * is not regular, a name over the demangler's budget, maps of a process that exited...), by reason.
   */
  symbolizerGaveUp?(): Readonly<Record<string, number>>;
  /** The memory budget (--memory-limit) and its parts; undefined when there is none. */
  memory?(): MemoryStats | undefined;
  /** hotpath_http_requests_rejected_total{route,code}: requests answered 4xx (429 past the limits, 401, 421...). */
  httpRequestsRejected?(): readonly { route: string; code: string; requests: number }[];
  /** The process's own cost, named as every Prometheus client library names it (process_*). */
  processStats?(): ProcessStats | undefined;
  /** hotpath_symbolize_duration_seconds{profile}: time to symbolize and store one window. */
  symbolizeDurations?(): HistogramSeries[];
  /** The push exporters (--pyroscope-url): one entry per target. */
  push?(): readonly PushStats[];
  /** --kubernetes: the pod metadata cache; undefined when it is off. */
  kubernetes?(): KubernetesStats | undefined;
}

/** The Kubernetes pod metadata cache of --kubernetes. */
export interface KubernetesStats {
  /** hotpath_kubernetes_pods: pods of this node held. */
  pods: number;
  /** hotpath_kubernetes_pods_dropped_total: pods left out because the cache was full. */
  podsDropped: number;
  /** hotpath_kubernetes_errors_total{reason}: failed requests and bad answers. */
  errors: Readonly<Record<string, number>>;
}


/** Cumulative counts of one push target and its queue now. */
export interface PushStats {
  /** `pyroscope`, `otlp`. */
  target: string;
  /** hotpath_push_requests_total{target,outcome}: attempts by outcome (success, rejected, server_error, network_error, timeout). */
  requests: Readonly<Record<string, number>>;
  /**
   * hotpath_push_dropped_total{target,reason}: requests (one per window and profile type) dropped, by reason
   * (queue_full, too_large, rejected, shutdown, encode_backlog, encode_error).
   */
  dropped: Readonly<Record<string, number>>;
  /** hotpath_push_queue_bytes{target}: bytes queued, counting the request being sent (targets with a queue). */
  queueBytes?: number;
  /** hotpath_push_sent_bytes_total{target}: bytes of the requests delivered (when the target knows them). */
  sentBytes?: number;
}

/** The standard process_* metrics of Prometheus client libraries. */
export interface ProcessStats {
  /** process_cpu_seconds_total: user and system CPU time of every thread. */
  cpuSeconds: number;
  /** process_virtual_memory_bytes. */
  virtualBytes?: number;
  /** process_open_fds and process_max_fds (the soft RLIMIT_NOFILE). */
  openFds?: number;
  maxFds?: number;
  /** process_start_time_seconds: since the Unix epoch. */
  startTimeSeconds: number;
}

/** Cumulative count of one profile type's windows dropped for one reason. */
export interface WindowsDropped {
  /** The profile type (cpu, offcpu). */
  profile: string;
  /** e.g. `memory` (the history's budget), `retention` (aged out), `drain_error`, `symbolize_error`. */
  reason: string;
  windows: number;
}

/** The agent's memory budget. */
export interface MemoryStats {
  /** hotpath_memory_limit_bytes: the whole budget. */
  limitBytes: number;
  /** process_resident_memory_bytes: what the process holds in RAM, to compare with the limit. */
  residentBytes?: number;
  /**
   * Its parts (e.g. `history`, `symbols`): hotpath_memory_budget_bytes{part}, hotpath_memory_used_bytes{part}
   * (when known) and hotpath_memory_evictions_total{part} (what was dropped to stay within the part).
   */
  parts: readonly { part: string; budgetBytes: number; usedBytes?: number; evictions: number }[];
  /** hotpath_memory_collections_total: full garbage collections run because resident memory neared the limit. */
  collections?: number;
}

/** Cumulative counts of the in-kernel user-stack walker and the state of its tables. */
export interface UnwinderStats {
  /** hotpath_unwind_walks_total{end}: walks by why they ended (outermost frame, read failed, depth...). */
  walkEnds: Readonly<Record<string, number>>;
  /** hotpath_unwind_frames_total{method}: frames stepped by table row or by frame pointer. */
  frames: Readonly<Record<string, number>>;
  /** hotpath_unwind_table_bytes: kernel memory the tables use. */
  tableBytes: number;
  /** hotpath_unwind_table_capacity_bytes: the --unwind-table-memory budget. */
  capacityBytes: number;
  /** hotpath_unwind_table_files{state}: files by table state (ready, failed, no_room, building). */
  files: Readonly<Record<string, number>>;
}

export interface HotpathMetricProducerOptions {
  /** Boundaries shown for every histogram (default 2^0..2^36 ns). */
  layout?: Log2BucketLayout;
  /** At most this many series per metric; the rest are dropped and reported (default 2000, as OTel). */
  maxSeriesPerMetric?: number;
}

/** Names exactly as the product contract spells them. */
export const MetricNames = {
  runqueueLatency: 'hotpath_runqueue_latency_seconds',
  blockIoLatency: 'hotpath_block_io_latency_seconds',
  samplesLost: 'hotpath_samples_lost_total',
  drainDuration: 'hotpath_drain_duration_seconds',
  programRunSeconds: 'hotpath_bpf_program_run_seconds_total',
  programRuns: 'hotpath_bpf_program_runs_total',
  info: 'hotpath_info',
  programAttached: 'hotpath_program_attached',
  unwindWalks: 'hotpath_unwind_walks_total',
  unwindFrames: 'hotpath_unwind_frames_total',
  unwindTableBytes: 'hotpath_unwind_table_bytes',
  unwindTableCapacity: 'hotpath_unwind_table_capacity_bytes',
  unwindTableFiles: 'hotpath_unwind_table_files',
  windowsDropped: 'hotpath_windows_dropped_total',
  symbolizerGaveUp: 'hotpath_symbolizer_gave_up_total',
  httpRequestsRejected: 'hotpath_http_requests_rejected_total',
  memoryLimit: 'hotpath_memory_limit_bytes',
  memoryBudget: 'hotpath_memory_budget_bytes',
  memoryUsed: 'hotpath_memory_used_bytes',
  memoryEvictions: 'hotpath_memory_evictions_total',
  memoryCollections: 'hotpath_memory_collections_total',
  residentMemory: 'process_resident_memory_bytes',
  processCpu: 'process_cpu_seconds_total',
  processVirtualMemory: 'process_virtual_memory_bytes',
  processOpenFds: 'process_open_fds',
  processMaxFds: 'process_max_fds',
  processStartTime: 'process_start_time_seconds',
  symbolizeDuration: 'hotpath_symbolize_duration_seconds',
  pushRequests: 'hotpath_push_requests_total',
  pushDropped: 'hotpath_push_dropped_total',
  pushQueueBytes: 'hotpath_push_queue_bytes',
  pushSentBytes: 'hotpath_push_sent_bytes_total',
  kubernetesPods: 'hotpath_kubernetes_pods',
  kubernetesPodsDropped: 'hotpath_kubernetes_pods_dropped_total',
  kubernetesErrors: 'hotpath_kubernetes_errors_total',
} as const;

const SCOPE = { name: 'hotpath' };
const MAX_ERRORS_PER_COLLECT = 32;

function hrTimeNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.floor((ms - seconds * 1000) * 1e6))];
}

function toNumber(v: bigint | number): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** A collect error (reported in CollectionResult.errors, never thrown): the metric and what went wrong. */
function collectError(metric: string, what: string): ExporterError {
  return new ExporterError(ExporterErrorCodes.METRICS_COLLECT, `collect ${metric}: ${what}`);
}

/** A stable key for an attribute set, independent of key order. */
function attributesKey(attributes: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}

/** Counts of what the producer left out; also reported as CollectionResult.errors. */
export interface ProducerStats {
  /** Source methods that threw (their metric was left out of that collect). */
  sourceErrors: number;
  /** Series dropped for bad data (bad slot arrays, `le` attribute, non-finite values). */
  invalidSeries: number;
  /** Series dropped over maxSeriesPerMetric. */
  overflowSeries: number;
}

export class HotpathMetricProducer implements MetricProducer {
  readonly startTime: HrTime = hrTimeNow();
  readonly stats: ProducerStats = { sourceErrors: 0, invalidSeries: 0, overflowSeries: 0 };
  private readonly layout: Log2BucketLayout;
  private readonly maxSeries: number;

  /** Throws on a bad layout: that is a programming error, found at startup. */
  constructor(
    private readonly source: MetricsSource,
    options: HotpathMetricProducerOptions = {},
  ) {
    this.layout = { ...(options.layout ?? DEFAULT_BUCKET_LAYOUT) };
    const layoutError = checkLayout(this.layout);
    if (layoutError) throw new ExporterError(ExporterErrorCodes.OPTION, `HotpathMetricProducer: ${layoutError}`);
    this.maxSeries = Math.max(1, options.maxSeriesPerMetric ?? 2000);
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTimeNow();
    const errors: unknown[] = [];
    const metrics: MetricData[] = [];
    // Each metric is built on its own, so a failing source method costs only its own metric.
    const add = (name: string, build: () => MetricData | undefined): void => {
      try {
        const m = build();
        if (m && m.dataPoints.length > 0) metrics.push(m);
      } catch (err) {
        this.stats.sourceErrors++;
        errors.push(collectError(name, err instanceof Error ? err.message : String(err)));
      }
    };
    const histogram = (name: string, description: string, read: () => HistogramSeries[]) =>
      add(name, () => this.histogramMetric(name, description, read(), endTime, errors));

    histogram(MetricNames.runqueueLatency, 'Time from task wakeup to running on a CPU.', () =>
      this.source.runqueueLatency(),
    );
    histogram(MetricNames.blockIoLatency, 'Block I/O request latency, from issue to completion.', () =>
      this.source.blockIoLatency(),
    );
    histogram(MetricNames.drainDuration, 'Time taken to drain the kernel maps once.', () =>
      this.source.drainDurations(),
    );
    if (this.source.symbolizeDurations) {
      const read = this.source.symbolizeDurations.bind(this.source);
      histogram(MetricNames.symbolizeDuration, 'Time taken to symbolize and store one window, by profile.', read);
    }
    if (this.source.processStats) {
      let stats: ProcessStats | undefined | null = null;
      const readStats = () => (stats === null ? (stats = this.source.processStats?.()) : stats);
      const gauge = (name: string, description: string, unit: string, value: number | undefined): MetricData =>
        this.gaugeMetric(name, description, unit, value === undefined || !Number.isFinite(value) ? [] : [{ attributes: {}, value }], endTime, ValueType.DOUBLE);
      add(MetricNames.processCpu, () => {
        const st = readStats();
        const points = st ? [{ attributes: {}, value: st.cpuSeconds }] : [];
        return this.sumMetric(MetricNames.processCpu, 'Total user and system CPU time spent in seconds.', 's', points, endTime, errors);
      });
      add(MetricNames.processVirtualMemory, () => gauge(MetricNames.processVirtualMemory, 'Virtual memory size in bytes.', 'By', readStats()?.virtualBytes));
      add(MetricNames.processOpenFds, () => gauge(MetricNames.processOpenFds, 'Number of open file descriptors.', '', readStats()?.openFds));
      add(MetricNames.processMaxFds, () => gauge(MetricNames.processMaxFds, 'Maximum number of open file descriptors.', '', readStats()?.maxFds));
      add(MetricNames.processStartTime, () =>
        gauge(MetricNames.processStartTime, 'Start time of the process since unix epoch in seconds.', 's', readStats()?.startTimeSeconds),
      );
    }
    add(MetricNames.samplesLost, () => {
      const lost = this.source.samplesLost();
      const points = Object.keys(lost).map((reason) => ({ attributes: { reason }, value: toNumber(lost[reason]) }));
      return this.sumMetric(MetricNames.samplesLost, 'Samples lost before aggregation, by reason.', '', points, endTime, errors);
    });
    // Read program stats once; both counters come from the same snapshot.
    let programs: ProgramStats[] | undefined;
    const readPrograms = () => (programs ??= this.source.programStats());
    add(MetricNames.programRunSeconds, () =>
      this.sumMetric(
        MetricNames.programRunSeconds,
        'Time spent running each BPF program (kernel.bpf_stats_enabled=1).',
        's',
        readPrograms().map((p) => ({ attributes: { program: p.program }, value: toNumber(p.runTimeNs) / 1e9 })),
        endTime,
        errors,
      ),
    );
    add(MetricNames.programRuns, () =>
      this.sumMetric(
        MetricNames.programRuns,
        'Number of runs of each BPF program (kernel.bpf_stats_enabled=1).',
        '',
        readPrograms().map((p) => ({ attributes: { program: p.program }, value: toNumber(p.runCount) })),
        endTime,
        errors,
      ),
    );
    add(MetricNames.info, () => {
      const { version, kernel } = this.source.info();
      return {
        descriptor: { name: MetricNames.info, description: 'hotpath build and kernel information.', unit: '', valueType: ValueType.INT },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: [{ startTime: this.startTime, endTime, attributes: { version: String(version), kernel: String(kernel) }, value: 1 }],
      };
    });

    if (this.source.programsAttached) {
      add(MetricNames.programAttached, () => {
        const attached = this.source.programsAttached?.() ?? {};
        return {
          descriptor: {
            name: MetricNames.programAttached,
            description: 'Whether each selected program is attached (1) or failed to attach (0).',
            unit: '',
            valueType: ValueType.INT,
          },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: Object.entries(attached).map(([program, ok]) => ({
            startTime: this.startTime, endTime, attributes: { program }, value: ok ? 1 : 0,
          })),
        };
      });
    }

    if (this.source.unwinder) {
      let unwind: UnwinderStats | undefined | null = null;
      const readUnwind = () => (unwind === null ? (unwind = this.source.unwinder?.()) : unwind);
      const points = (r: Readonly<Record<string, number>> | undefined, label: string) =>
        Object.entries(r ?? {}).map(([k, value]) => ({ attributes: { [label]: k }, value }));
      add(MetricNames.unwindWalks, () =>
        this.sumMetric(MetricNames.unwindWalks, 'User-stack walks by why they ended.', '', points(readUnwind()?.walkEnds, 'end'), endTime, errors),
      );
      add(MetricNames.unwindFrames, () =>
        this.sumMetric(MetricNames.unwindFrames, 'User frames stepped, by table row or by frame pointer.', '', points(readUnwind()?.frames, 'method'), endTime, errors),
      );
      const gauge = (name: string, description: string, unit: string, dataPoints: { attributes: Attributes; value: number }[]): MetricData =>
        this.gaugeMetric(name, description, unit, dataPoints, endTime);
      add(MetricNames.unwindTableBytes, () => {
        const u = readUnwind();
        return gauge(MetricNames.unwindTableBytes, 'Kernel memory the unwind tables use.', 'By', u ? [{ attributes: {}, value: u.tableBytes }] : []);
      });
      add(MetricNames.unwindTableCapacity, () => {
        const u = readUnwind();
        return gauge(MetricNames.unwindTableCapacity, 'Kernel memory reserved for unwind tables (--unwind-table-memory).', 'By', u ? [{ attributes: {}, value: u.capacityBytes }] : []);
      });
      add(MetricNames.unwindTableFiles, () =>
        gauge(MetricNames.unwindTableFiles, 'Files by unwind table state.', '', points(readUnwind()?.files, 'state')),
      );
    }

    if (this.source.windowsDropped) {
      add(MetricNames.windowsDropped, () =>
        this.sumMetric(
          MetricNames.windowsDropped,
          'Profile windows dropped, by profile type and reason (memory, retention, drain_error, symbolize_error).',
          '',
          (this.source.windowsDropped?.() ?? []).map((d) => ({ attributes: { profile: d.profile, reason: d.reason }, value: d.windows })),
          endTime,
          errors,
        ),
      );
    }

    if (this.source.symbolizerGaveUp) {
      add(MetricNames.symbolizerGaveUp, () =>
        this.sumMetric(
          MetricNames.symbolizerGaveUp,
          'Inputs the symbolizer refused, cut short or could not read, by reason (each leaves frames unnamed or a name mangled).',
          '',
          Object.entries(this.source.symbolizerGaveUp?.() ?? {}).map(([reason, n]) => ({ attributes: { reason }, value: n })),
          endTime,
          errors,
        ),
      );
    }

    if (this.source.httpRequestsRejected) {
      add(MetricNames.httpRequestsRejected, () =>
        this.sumMetric(
          MetricNames.httpRequestsRejected,
          'HTTP requests answered with a 4xx status, by route and status code.',
          '',
          (this.source.httpRequestsRejected?.() ?? []).map((r) => ({ attributes: { route: r.route, code: r.code }, value: r.requests })),
          endTime,
          errors,
        ),
      );
    }

    if (this.source.push) {
      let push: readonly PushStats[] | null = null;
      const readPush = () => (push ??= this.source.push?.() ?? []);
      const byKey = (pick: (p: PushStats) => Readonly<Record<string, number>>, label: string) =>
        readPush().flatMap((p) => Object.entries(pick(p)).map(([k, value]) => ({ attributes: { target: p.target, [label]: k }, value })));
      add(MetricNames.pushRequests, () =>
        this.sumMetric(MetricNames.pushRequests, 'Push requests by target and outcome.', '', byKey((p) => p.requests, 'outcome'), endTime, errors),
      );
      add(MetricNames.pushDropped, () =>
        this.sumMetric(
          MetricNames.pushDropped,
          'Push requests (one per window and profile type) dropped, by target and reason.',
          '',
          byKey((p) => p.dropped, 'reason'),
          endTime,
          errors,
        ),
      );
      add(MetricNames.pushQueueBytes, () =>
        this.gaugeMetric(MetricNames.pushQueueBytes, 'Bytes queued for a push target.', 'By', readPush().flatMap((p) => (p.queueBytes === undefined ? [] : [{ attributes: { target: p.target }, value: p.queueBytes }])), endTime),
      );
      add(MetricNames.pushSentBytes, () =>
        this.sumMetric(MetricNames.pushSentBytes, 'Bytes of push requests delivered.', '', readPush().flatMap((p) => (p.sentBytes === undefined ? [] : [{ attributes: { target: p.target }, value: p.sentBytes }])), endTime, errors),
      );
    }

    if (this.source.kubernetes) {
      let k8s: KubernetesStats | undefined | null = null;
      const readK8s = () => (k8s === null ? (k8s = this.source.kubernetes?.()) : k8s);
      add(MetricNames.kubernetesPods, () => {
        const k = readK8s();
        return this.gaugeMetric(MetricNames.kubernetesPods, 'Pods of this node in the --kubernetes metadata cache.', '', k ? [{ attributes: {}, value: k.pods }] : [], endTime);
      });
      add(MetricNames.kubernetesPodsDropped, () => {
        const k = readK8s();
        const points = k ? [{ attributes: {}, value: k.podsDropped }] : [];
        return this.sumMetric(MetricNames.kubernetesPodsDropped, 'Pods left out of the metadata cache because it was full.', '', points, endTime, errors);
      });
      add(MetricNames.kubernetesErrors, () =>
        this.sumMetric(
          MetricNames.kubernetesErrors,
          'Failed requests for pod metadata and bad answers, by reason (connect, http_<status>, decode, gone, token).',
          '',
          Object.entries(readK8s()?.errors ?? {}).map(([reason, value]) => ({ attributes: { reason }, value })),
          endTime,
          errors,
        ),
      );
    }

    if (this.source.memory) {
      let memory: MemoryStats | undefined | null = null;
      const readMemory = () => (memory === null ? (memory = this.source.memory?.()) : memory);
      const gauge = (name: string, description: string, dataPoints: { attributes: Attributes; value: number }[]): MetricData =>
        this.gaugeMetric(name, description, 'By', dataPoints, endTime);
      const parts = () => readMemory()?.parts ?? [];
      add(MetricNames.memoryLimit, () => {
        const m = readMemory();
        return gauge(MetricNames.memoryLimit, 'The agent memory budget (--memory-limit).', m ? [{ attributes: {}, value: m.limitBytes }] : []);
      });
      add(MetricNames.residentMemory, () => {
        const rss = readMemory()?.residentBytes;
        return gauge(MetricNames.residentMemory, 'Resident memory size in bytes.', rss === undefined ? [] : [{ attributes: {}, value: rss }]);
      });
      add(MetricNames.memoryBudget, () =>
        gauge(MetricNames.memoryBudget, 'Part of the memory budget each user may hold.', parts().map((p) => ({ attributes: { part: p.part }, value: p.budgetBytes }))),
      );
      add(MetricNames.memoryUsed, () =>
        gauge(
          MetricNames.memoryUsed,
          'Memory each part of the budget holds, as it estimates it.',
          parts().filter((p) => p.usedBytes !== undefined).map((p) => ({ attributes: { part: p.part }, value: p.usedBytes! })),
        ),
      );
      add(MetricNames.memoryEvictions, () =>
        this.sumMetric(
          MetricNames.memoryEvictions,
          'Entries evicted to keep a part of the memory budget within its bytes (history: windows; symbols: files).',
          '',
          parts().map((p) => ({ attributes: { part: p.part }, value: p.evictions })),
          endTime,
          errors,
        ),
      );
      add(MetricNames.memoryCollections, () => {
        const n = readMemory()?.collections;
        return this.sumMetric(
          MetricNames.memoryCollections,
          'Full garbage collections the agent ran because its resident memory neared --memory-limit.',
          '',
          n === undefined ? [] : [{ attributes: {}, value: n }],
          endTime,
          errors,
        );
      });
    }

    return {
      // The reader keeps the SDK's resource and ignores this one.
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics }] },
      errors,
    };
  }

  /** A gauge of the given points (integers unless said), stamped now. */
  private gaugeMetric(
    name: string,
    description: string,
    unit: string,
    dataPoints: { attributes: Attributes; value: number }[],
    endTime: HrTime,
    valueType: ValueType = ValueType.INT,
  ): MetricData {
    return {
      descriptor: { name, description, unit, valueType },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: dataPoints.map((p) => ({ startTime: this.startTime, endTime, ...p })),
    };
  }

  private histogramMetric(
    name: string,
    description: string,
    series: HistogramSeries[],
    endTime: HrTime,
    errors: unknown[],
  ): MetricData {
    // Two series with one attribute set would be duplicate samples, which Prometheus refuses: merge them.
    const byKey = new Map<string, { attributes: Attributes; parts: Log2Histogram[] }>();
    let dropped = 0;
    for (const s of series) {
      if (!s || typeof s.attributes !== 'object' || !s.histogram || 'le' in s.attributes) {
        this.invalid(errors, name, 'series without histogram or with a reserved `le` attribute');
        continue;
      }
      const key = attributesKey(s.attributes);
      const entry = byKey.get(key);
      if (entry) {
        entry.parts.push(s.histogram);
      } else if (byKey.size >= this.maxSeries) {
        dropped++;
      } else {
        byKey.set(key, { attributes: { ...s.attributes }, parts: [s.histogram] });
      }
    }
    this.overflow(errors, name, dropped);
    const dataPoints: DataPoint<Histogram>[] = [];
    for (const { attributes, parts } of byKey.values()) {
      let h = parts[0];
      if (parts.length > 1) {
        const merged = mergeHistograms(parts);
        if (merged.mismatched > 0) this.invalid(errors, name, 'duplicate series with different slot counts');
        h = merged.histogram;
      }
      const converted = toExplicitHistogram(h, this.layout);
      if (!converted.ok) {
        this.invalid(errors, name, converted.error);
        continue;
      }
      const { boundaries, counts, sum, count } = converted.histogram;
      dataPoints.push({
        startTime: this.startTime,
        endTime,
        attributes,
        value: { buckets: { boundaries, counts }, sum, count },
      });
    }
    return {
      descriptor: { name, description, unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }

  private sumMetric(
    name: string,
    description: string,
    unit: string,
    points: { attributes: Record<string, string>; value: number }[],
    endTime: HrTime,
    errors: unknown[],
  ): MetricData {
    const dataPoints: DataPoint<number>[] = [];
    let dropped = 0;
    for (const p of points) {
      if (!Number.isFinite(p.value) || p.value < 0) {
        this.invalid(errors, name, `bad counter value ${p.value}`);
        continue;
      }
      if (dataPoints.length >= this.maxSeries) {
        dropped++;
        continue;
      }
      dataPoints.push({ startTime: this.startTime, endTime, attributes: p.attributes, value: p.value });
    }
    this.overflow(errors, name, dropped);
    return {
      descriptor: { name, description, unit, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    };
  }

  private invalid(errors: unknown[], name: string, why: string): void {
    this.stats.invalidSeries++;
    // Bounded: a source gone wrong must not make every scrape allocate and log without limit.
    if (errors.length < MAX_ERRORS_PER_COLLECT) errors.push(collectError(name, `dropped series: ${why}`));
  }

  private overflow(errors: unknown[], name: string, dropped: number): void {
    if (dropped === 0) return;
    this.stats.overflowSeries += dropped;
    if (errors.length < MAX_ERRORS_PER_COLLECT) {
      errors.push(collectError(name, `dropped ${dropped} series over the limit of ${this.maxSeries}`));
    }
  }
}
