/**
 * Every Usage tab endpoint against the 10M-row dataset, each next to the naive SQL a first
 * version would run for the same answer: GROUP BY over the raw usage_records table, buckets in
 * the same time zone.
 */
import { Agent, get } from 'node:http';
import type pg from 'pg';
import { HEAVY_USER, WORKSPACE } from './dataset';
import { Progress } from './progress';
import { percentiles, type Percentiles } from './stats';

export const TZ = 'Europe/Berlin';
/** India, +05:30: the provider chart is also timed in it */
export const HALF_HOUR_TZ = 'Asia/Kolkata';

interface Range {
  label: string;
  from: Date;
  to: Date;
}

interface Scenario {
  name: string;
  range: string;
  path: string;
  /** activity reads the newest raw rows by nature: no speed-up to expect */
  speedupApplies: boolean;
  raw: (client: pg.Client) => Promise<unknown>;
  /** compares the answer's totals with the raw rows, when the answer has `totals.requests` */
  totals?: [where: string, params: unknown[]];
}

export interface EndpointResult {
  name: string;
  range: string;
  path: string;
  status: 'ok' | 'missing' | `HTTP ${number}`;
  detail?: string;
  latencyMs: Percentiles | null;
  rawMs: Percentiles;
  speedup: number | null;
  speedupApplies: boolean;
  /** 'matches raw', a difference, or why it was not checked */
  answer?: string;
  /** where the plans of its statements were written, when it missed its bar */
  plans?: string;
}

const RANGE = `workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3`;
const USER_RANGE = `workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND user_id = $4`;
const SUMS = `count(*) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
  sum(total_tokens) AS total_tokens, sum(cost) AS cost`;
const bucket = (unit: string, tz: string): string =>
  `date_trunc('${unit}', occurred_at AT TIME ZONE '${tz}') AT TIME ZONE '${tz}'`;

/** Last `days` local days in TZ, today included: [local midnight days-1 days ago, next local midnight). */
async function localRange(client: pg.Client, days: number): Promise<Range> {
  const row = (
    await client.query(
      `SELECT (date_trunc('day', now() AT TIME ZONE $1) + interval '1 day' - make_interval(days => $2)) AT TIME ZONE $1 AS "from",
              (date_trunc('day', now() AT TIME ZONE $1) + interval '1 day') AT TIME ZONE $1 AS "to"`,
      [TZ, days],
    )
  ).rows[0] as { from: Date; to: Date };
  return { label: `${days}d`, ...row };
}

interface Windows {
  day: Date;
  week: Date;
  month: Date;
}

/** Starts of today, this week (Monday) and this month in TZ: the stats endpoint's windows. */
async function localWindows(client: pg.Client): Promise<Windows> {
  return (
    await client.query(
      `SELECT ${['day', 'week', 'month'].map((u) => `date_trunc('${u}', now() AT TIME ZONE $1) AT TIME ZONE $1 AS ${u}`).join(', ')}`,
      [TZ],
    )
  ).rows[0] as Windows;
}

function scenarios(range: Range, windows: Windows): Scenario[] {
  const q = `from=${range.from.toISOString()}&to=${range.to.toISOString()}&tz=${encodeURIComponent(TZ)}&granularity=day`;
  const p = [WORKSPACE, range.from, range.to];
  const up = [...p, HEAVY_USER];
  // the users page's first 20 users by tokens, with or without their models
  const usersPage = (client: pg.Client) =>
    client.query(
      `SELECT user_id, ${SUMS}, max(occurred_at) AS last_active_at, count(*) OVER () AS total
       FROM usage_records WHERE ${RANGE} GROUP BY user_id ORDER BY total_tokens DESC, user_id LIMIT 20 OFFSET 0`,
      p,
    );
  const run = (client: pg.Client, statements: Array<[string, unknown[]]>) =>
    statements.reduce<Promise<unknown>>(
      (prev, [sql, params]) => prev.then(() => client.query(sql, params)),
      Promise.resolve(),
    );
  const userBreakdowns = (client: pg.Client): Promise<unknown> =>
    run(client, [
      [`SELECT ${SUMS}, count(*) FILTER (WHERE NOT success) AS errors FROM usage_records WHERE ${USER_RANGE}`, up],
      [`SELECT ${bucket('day', TZ)} AS b, ${SUMS} FROM usage_records WHERE ${USER_RANGE} GROUP BY 1 ORDER BY 1`, up],
      [`SELECT provider, ${SUMS} FROM usage_records WHERE ${USER_RANGE} GROUP BY 1`, up],
      [`SELECT provider, model, ${SUMS} FROM usage_records WHERE ${USER_RANGE} GROUP BY 1, 2`, up],
    ]);
  return [
    {
      name: 'stats',
      range: range.label,
      path: `/v1/admin/usage/stats?${q}`,
      speedupApplies: true,
      totals: [RANGE, p],
      raw: (c) =>
        run(c, [
          [
            `SELECT ${SUMS}, sum(cached_input_tokens), sum(reasoning_tokens), count(*) FILTER (WHERE NOT success) AS errors,
               avg(duration_ms), count(*) FILTER (WHERE cost IS NULL) AS unpriced
             FROM usage_records WHERE ${RANGE}`,
            p,
          ],
          // on its own: next to the sums, PostgreSQL sorts for the DISTINCT by walking the
          // (workspace, user, time) index over the whole heap, ~20x slower than these two apart
          [`SELECT count(DISTINCT user_id) AS active_users FROM usage_records WHERE ${RANGE}`, p],
          [
            `SELECT provider, model, ${SUMS} FROM usage_records WHERE ${RANGE} GROUP BY 1, 2 ORDER BY total_tokens DESC LIMIT 5`,
            p,
          ],
          [
            `SELECT operation, count(*), sum(total_tokens), count(*) FILTER (WHERE NOT success) FROM usage_records
             WHERE ${RANGE} GROUP BY 1`,
            p,
          ],
          [
            // the window starts are parameters, as an application would pass them: partitions get pruned
            `SELECT ${['$2', '$3', '$4']
              .map(
                (start) => `count(*) FILTER (WHERE occurred_at >= ${start}),
                  sum(total_tokens) FILTER (WHERE occurred_at >= ${start}),
                  count(*) FILTER (WHERE occurred_at >= ${start} AND NOT success),
                  sum(cost) FILTER (WHERE occurred_at >= ${start})`,
              )
              .join(', ')}
             FROM usage_records WHERE workspace_id = $1 AND occurred_at >= least($3::timestamptz, $4::timestamptz)`,
            [WORKSPACE, windows.day, windows.week, windows.month],
          ],
        ]),
    },
    {
      name: 'providers',
      range: range.label,
      path: `/v1/admin/usage/providers?${q}`,
      speedupApplies: true,
      raw: (c) =>
        run(c, [
          [`SELECT provider, ${SUMS} FROM usage_records WHERE ${RANGE} GROUP BY 1`, p],
          [
            `SELECT ${bucket('day', TZ)} AS b, provider, ${SUMS} FROM usage_records WHERE ${RANGE} GROUP BY 1, 2 ORDER BY 1, 2`,
            p,
          ],
        ]),
    },
    {
      // a half-hour zone: local midnights cut UTC hours in two
      name: 'providers, IST',
      range: range.label,
      path: `/v1/admin/usage/providers?${q.replace(encodeURIComponent(TZ), encodeURIComponent(HALF_HOUR_TZ))}`,
      speedupApplies: true,
      raw: (c) =>
        run(c, [
          [`SELECT provider, ${SUMS} FROM usage_records WHERE ${RANGE} GROUP BY 1`, p],
          [
            `SELECT ${bucket('day', HALF_HOUR_TZ)} AS b, provider, ${SUMS} FROM usage_records WHERE ${RANGE} GROUP BY 1, 2 ORDER BY 1, 2`,
            p,
          ],
        ]),
    },
    {
      name: 'models?limit=5',
      range: range.label,
      path: `/v1/admin/usage/models?${q}&limit=5`,
      speedupApplies: true,
      raw: (c) =>
        run(c, [
          [
            `SELECT provider, model, ${SUMS} FROM usage_records WHERE ${RANGE} GROUP BY 1, 2 ORDER BY total_tokens DESC`,
            p,
          ],
        ]),
    },
    {
      name: 'users (page 1)',
      range: range.label,
      path: `/v1/admin/usage/users?${q}&page=1&pageSize=20&sort=totalTokens&order=desc`,
      speedupApplies: true,
      raw: async (c) => {
        const page = await usersPage(c);
        const ids = (page.rows as Array<{ user_id: string }>).map((r) => r.user_id);
        await c.query(
          `SELECT user_id, provider, model, count(*), sum(total_tokens) FROM usage_records
           WHERE ${RANGE} AND user_id = ANY($4) GROUP BY 1, 2, 3`,
          [...p, ids],
        );
      },
    },
    {
      // as the Usage page's table asks for it: no models
      name: 'users (table)',
      range: range.label,
      path: `/v1/admin/usage/users?${q}&page=1&pageSize=20&sort=totalTokens&order=desc&modelsPerUser=0`,
      speedupApplies: true,
      raw: usersPage,
    },
    {
      name: `users/${HEAVY_USER}`,
      range: range.label,
      path: `/v1/admin/usage/users/${HEAVY_USER}?${q}`,
      speedupApplies: true,
      totals: [USER_RANGE, up],
      raw: (c) =>
        userBreakdowns(c).then(() =>
          run(c, [
            [`SELECT ${bucket('month', TZ)} AS b, ${SUMS} FROM usage_records WHERE ${USER_RANGE} GROUP BY 1`, up],
            [`SELECT * FROM usage_records WHERE ${USER_RANGE} ORDER BY occurred_at DESC LIMIT 50`, up],
          ]),
        ),
    },
    {
      name: 'me/usage',
      range: range.label,
      path: `/v1/me/usage?${q}`,
      speedupApplies: true,
      totals: [USER_RANGE, up],
      raw: userBreakdowns,
    },
  ];
}

// the naive query is this endpoint's own query: what it adds is HTTP, auth and JSON
const activity: Scenario = {
  name: 'activity?limit=10',
  range: 'latest',
  path: '/v1/admin/usage/activity?limit=10',
  speedupApplies: true,
  raw: (c) =>
    c.query(
      `SELECT request_id, occurred_at, user_id, provider, model, operation, input_tokens, output_tokens, total_tokens,
         duration_ms, success, error, cost, cost_status
       FROM usage_records WHERE workspace_id = $1 ORDER BY occurred_at DESC LIMIT 10`,
      [WORKSPACE],
    ),
};

// always fresh by design: read from the raw records by the primary key, so its naive query is
// its own (the last hour by minute, the hour's operations and users)
const realtime: Scenario = {
  name: 'realtime',
  range: 'last hour',
  path: '/v1/admin/usage/realtime',
  speedupApplies: false,
  raw: (c) =>
    c.query(
      `WITH recent AS MATERIALIZED (
         SELECT occurred_at, user_id, operation, total_tokens, success, duration_ms FROM usage_records
         WHERE workspace_id = $1 AND occurred_at >= date_trunc('minute', now()) - interval '59 minutes')
       SELECT (SELECT json_agg(m) FROM (SELECT date_bin('1 minute', occurred_at, now()) AS minute, count(*), sum(total_tokens),
                 count(*) FILTER (WHERE NOT success), avg(duration_ms) FROM recent GROUP BY 1) m),
              (SELECT json_agg(o) FROM (SELECT operation, count(*) FROM recent GROUP BY 1) o),
              (SELECT count(DISTINCT user_id) FROM recent)`,
      [WORKSPACE],
    ),
};

/** Does the answer's `totals` agree with the raw rows? Fast but wrong would be no result. */
async function compareTotals(client: pg.Client, body: string, [where, params]: [string, unknown[]]): Promise<string> {
  let totals: { requests?: unknown; totalTokens?: unknown } | undefined;
  try {
    totals = (JSON.parse(body) as { totals?: typeof totals }).totals;
  } catch {
    return 'not JSON';
  }
  if (totals?.requests === undefined) return 'no totals.requests: not checked';
  const row = (
    await client.query(
      `SELECT count(*) AS requests, coalesce(sum(total_tokens), 0) AS tokens FROM usage_records WHERE ${where}`,
      params,
    )
  ).rows[0] as { requests: string; tokens: string };
  const same =
    Number(totals.requests) === Number(row.requests) &&
    (totals.totalTokens === undefined || Number(totals.totalTokens) === Number(row.tokens));
  return same
    ? 'matches raw'
    : `DIFFERS: requests ${String(totals.requests)} vs raw ${row.requests}, totalTokens ${String(totals.totalTokens)} vs raw ${row.tokens}`;
}

function call(agent: Agent, url: string, token: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - started,
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(300_000, () => req.destroy(new Error('no answer within 300 s')));
    req.on('error', reject);
  });
}

export async function runQueries(
  client: pg.Client,
  service: { baseUrl: string; token: string },
  repeat: number,
  rawRepeat: number,
): Promise<{ results: EndpointResult[]; callSeconds: number; rawSeconds: number }> {
  const windows = await localWindows(client);
  const all = [
    ...scenarios(await localRange(client, 30), windows),
    activity,
    realtime,
    ...scenarios(await localRange(client, 90), windows),
  ];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const results: EndpointResult[] = [];
  const calls = new Progress('calling the Usage tab endpoints', all.length * repeat, 'calls');
  let done = 0;
  try {
    for (const scenario of all) {
      const url = `${service.baseUrl}${scenario.path}`;
      const warmUp = await call(agent, url, service.token);
      const result: EndpointResult = {
        name: scenario.name,
        range: scenario.range,
        path: scenario.path,
        status: 'ok',
        latencyMs: null,
        rawMs: percentiles([]),
        speedup: null,
        speedupApplies: scenario.speedupApplies,
      };
      results.push(result);
      if (warmUp.status !== 200) {
        result.status = warmUp.status === 404 ? 'missing' : `HTTP ${warmUp.status}`;
        result.detail = warmUp.body.slice(0, 300);
        calls.update((done += repeat));
        continue;
      }
      if (scenario.totals) result.answer = await compareTotals(client, warmUp.body, scenario.totals);
      const samples: number[] = [];
      for (let i = 0; i < repeat; i += 1) {
        const answer = await call(agent, url, service.token);
        if (answer.status !== 200) {
          result.status = `HTTP ${answer.status}`;
          result.detail = answer.body.slice(0, 300);
          break;
        }
        samples.push(answer.ms);
        calls.update((done += 1));
      }
      result.latencyMs = percentiles(samples);
    }
  } finally {
    agent.destroy();
  }
  calls.update(all.length * repeat);
  const callSeconds = calls.finish();

  const raw = new Progress('running the raw-table GROUP BY baselines', all.length * rawRepeat, 'runs');
  done = 0;
  for (const [i, scenario] of all.entries()) {
    const samples: number[] = [];
    for (let k = 0; k < rawRepeat; k += 1) {
      const started = performance.now();
      await scenario.raw(client);
      samples.push(performance.now() - started);
      raw.update((done += 1));
    }
    const result = results[i]!;
    result.rawMs = percentiles(samples);
    if (result.latencyMs && result.status === 'ok') result.speedup = result.rawMs.p50 / result.latencyMs.p50;
  }
  const rawSeconds = raw.finish();
  return { results, callSeconds, rawSeconds };
}
