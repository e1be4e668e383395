/** Where the service's CPU time went during an ingest, from the V8 CPU profile it wrote (--profile). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The first part whose pattern a frame's script matches, looking from the running function outwards. */
const PARTS: Array<[part: string, script: RegExp]> = [
  ['JSON parse of the body', /secure-json-parse/],
  ['validation: envelope and per-record checks', /usage-records\.route|usage-record-check|@sinclair\/typebox/],
  ['domain records and pricing', /use-cases\/ingest-usage|\/src\/domain\//],
  ['database driver: statement parameters, protocol', /persistence\/|node_modules\/(pg|pg-protocol|pg-pool|typeorm)\//],
];
const HTTP = 'HTTP and the rest (sockets, parser, fastify, responses)';
const GC = 'garbage collection';

export interface ProfileSummary {
  file: string;
  /** CPU seconds while busy, from the first record checked to the last */
  busySeconds: number;
  /** CPU seconds by part, largest first */
  parts: Array<{ part: string; seconds: number }>;
}

/** Sums the samples taken while the service was handling records (start-up and idle time left out). */
export function summariseProfile(path: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const parent = new Map<number, ProfileNode>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);

  const partOf = new Map<number, string | null>(); // null: idle or start-up
  const classify = (id: number): string | null => {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') return null;
    if (name === '(garbage collector)') return GC;
    for (let frame: ProfileNode | undefined = node; frame; frame = parent.get(frame.id)) {
      const found = PARTS.find(([, script]) => script.test(frame!.callFrame.url));
      if (found) return found[0];
    }
    return HTTP;
  };
  const checking = new Map<number, boolean>();
  const checks = (id: number): boolean => {
    let found = checking.get(id);
    if (found === undefined) {
      found = false;
      for (let frame: ProfileNode | undefined = byId.get(id); frame && !found; frame = parent.get(frame.id)) {
        found = frame.callFrame.functionName === 'checkRecord';
      }
      checking.set(id, found);
    }
    return found;
  };
  const first = profile.samples.findIndex(checks);
  let last = profile.samples.length - 1;
  while (last > first && !checks(profile.samples[last]!)) last -= 1;
  const seconds = new Map<string, number>();
  for (let i = Math.max(0, first); i <= last; i += 1) {
    const id = profile.samples[i]!;
    if (!partOf.has(id)) partOf.set(id, classify(id));
    const part = partOf.get(id);
    // timeDeltas[i + 1] is the time until the next sample: how long this one ran
    if (part) seconds.set(part, (seconds.get(part) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1e6);
  }
  const parts = [...seconds].map(([part, s]) => ({ part, seconds: s })).sort((a, b) => b.seconds - a.seconds);
  return { file: path, busySeconds: parts.reduce((sum, p) => sum + p.seconds, 0), parts };
}

/** The profile of the main thread of process `pid` in `dir` (node names it CPU.<date>.<time>.<pid>.0.<n>.cpuprofile). */
export function profileOf(dir: string, pid: number): string | undefined {
  return readdirSync(dir)
    .filter((name) => {
      const [, , , ofPid, thread] = name.split('.');
      return name.endsWith('.cpuprofile') && ofPid === String(pid) && thread === '0';
    })
    .sort()
    .map((name) => join(dir, name))
    .at(-1);
}
