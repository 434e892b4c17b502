// The body of Pyroscope's push API: a push.v1.PushRequest (grafana/pyroscope api/push/v1/push.proto), sent
// with the Connect protocol (POST /push.v1.PusherService/Push, Content-Type application/proto), the way
// Grafana Alloy's pyroscope.write sends it.
//
//   PushRequest      { repeated RawProfileSeries series = 1; }
//   RawProfileSeries { repeated types.v1.LabelPair labels = 1; repeated RawSample samples = 2; }
//   RawSample        { bytes raw_profile = 1; string ID = 2; }
//   types.v1.LabelPair { string name = 1; string value = 2; }
import { ProtobufWriter } from './protobuf-writer.js';

/** The Connect unary path of PusherService.Push, relative to the server's base URL. */
export const PYROSCOPE_PUSH_PATH = '/push.v1.PusherService/Push';

export interface PushSample {
  /** A pprof profile, gzipped (Pyroscope accepts raw or gzipped pprof). */
  rawProfile: Uint8Array;
  /** A unique id of the profile; may be ''. */
  id: string;
}

export interface PushSeries {
  /** The series' labels: __name__, service_name and the rest, as name/value pairs. */
  labels: readonly (readonly [string, string])[];
  samples: readonly PushSample[];
}

/** Encodes a push.v1.PushRequest. */
export function encodePushRequest(series: readonly PushSeries[]): Uint8Array {
  const w = new ProtobufWriter(1024);
  for (const s of series) {
    w.message(1, (rs) => {
      for (const [name, value] of s.labels) rs.message(1, (lp) => lp.string(1, name).string(2, value));
      for (const sample of s.samples) rs.message(2, (raw) => raw.bytes(1, sample.rawProfile).string(2, sample.id));
    });
  }
  return w.finish();
}
