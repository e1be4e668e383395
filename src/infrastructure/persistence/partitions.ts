import type { DataSource } from 'typeorm';

const PARTITION_LOCK_KEY = 727_412_002;

function monthStart(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
}

function nextMonth(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

export function partitionName(month: Date): string {
  return `usage_records_p${month.getUTCFullYear()}${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Creates the monthly partitions of usage_records that cover [from, to). */
export async function ensurePartitions(db: DataSource, from: Date, to: Date): Promise<string[]> {
  const created: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
    const existing = new Set<string>(
      (
        (await tx.query(
          `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'usage_records'::regclass`,
        )) as Array<{ relname: string }>
      ).map((row) => row.relname),
    );
    for (let month = monthStart(from); month < to; month = nextMonth(month)) {
      const name = partitionName(month);
      if (existing.has(name)) continue;
      await tx.query(
        `CREATE TABLE ${name} PARTITION OF usage_records
         FOR VALUES FROM ('${month.toISOString()}') TO ('${nextMonth(month).toISOString()}')`,
      );
      created.push(name);
    }
  });
  return created;
}
