import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityTarget, ObjectLiteral } from 'typeorm';
import {
  ApiKeyEntity,
  CatalogSourceEntity,
  ENTITIES,
  ModelEntity,
  ModelPriceEntity,
} from '../../src/infrastructure/persistence/entities';
import { createTestApp, type TestApp } from '../support/test-app';

/**
 * The TypeORM entities describe the migrated tables exactly: a migration that changes one of
 * these tables without its entity (or an entity changed without a migration) fails here.
 */
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

interface ColumnShape {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
}

interface TableShape {
  columns: ColumnShape[];
  primaryKey: string[];
  unique: string[][];
}

const byName = (a: ColumnShape, b: ColumnShape) => a.name.localeCompare(b.name);
const byColumns = (a: string[], b: string[]) => a.join().localeCompare(b.join());

/** The table as the migrations left it, read from information_schema. */
async function liveTable(table: string): Promise<TableShape> {
  const columns = (await t.db.query(
    `SELECT column_name, data_type, is_nullable, column_default, character_maximum_length,
            numeric_precision, numeric_scale
     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  )) as Array<{
    column_name: string;
    data_type: string;
    is_nullable: 'YES' | 'NO';
    column_default: string | null;
    character_maximum_length: number | null;
    numeric_precision: number | null;
    numeric_scale: number | null;
  }>;
  const keys = (await t.db.query(
    `SELECT c.constraint_type, c.constraint_name,
            array_agg(k.column_name::text ORDER BY k.ordinal_position) AS columns
     FROM information_schema.table_constraints c
     JOIN information_schema.key_column_usage k
       ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
      AND k.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND c.table_name = $1
       AND c.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
     GROUP BY c.constraint_type, c.constraint_name`,
    [table],
  )) as Array<{ constraint_type: 'PRIMARY KEY' | 'UNIQUE'; constraint_name: string; columns: string[] }>;
  return {
    columns: columns
      .map((c) => {
        const size =
          c.data_type === 'numeric' && c.numeric_precision !== null
            ? `(${c.numeric_precision},${c.numeric_scale ?? 0})`
            : c.character_maximum_length !== null
              ? `(${c.character_maximum_length})`
              : '';
        return {
          name: c.column_name,
          type: `${c.data_type}${size}`,
          nullable: c.is_nullable === 'YES',
          default: c.column_default,
        };
      })
      .sort(byName),
    primaryKey: keys.find((k) => k.constraint_type === 'PRIMARY KEY')?.columns ?? [],
    unique: keys
      .filter((k) => k.constraint_type === 'UNIQUE')
      .map((k) => k.columns)
      .sort(byColumns),
  };
}

/** The table as the entity's metadata describes it, in the same terms. */
function mappedTable(entity: EntityTarget<ObjectLiteral>): TableShape {
  const metadata = t.db.getMetadata(entity);
  const driver = t.db.driver;
  return {
    columns: metadata.columns
      .map((c) => {
        const size =
          c.precision !== undefined && c.precision !== null
            ? `(${c.precision},${c.scale ?? 0})`
            : c.length
              ? `(${c.length})`
              : '';
        return {
          name: c.databaseName,
          type: `${driver.normalizeType(c)}${size}`,
          nullable: c.isNullable,
          default: driver.normalizeDefault(c) ?? null,
        };
      })
      .sort(byName),
    primaryKey: metadata.primaryColumns.map((c) => c.databaseName),
    unique: metadata.uniques.map((u) => u.columns.map((c) => c.databaseName)).sort(byColumns),
  };
}

describe('entities of the plain CRUD tables', () => {
  it('reads the live schema (the comparison below is not vacuous)', async () => {
    const apiKeys = await liveTable('api_keys');
    expect(apiKeys.primaryKey).toEqual(['workspace_id', 'id']);
    expect(apiKeys.unique).toEqual([['workspace_id', 'secret_hash']]);
    expect(apiKeys.columns).toContainEqual({ name: 'secret_hash', type: 'bytea', nullable: false, default: null });
    expect(apiKeys.columns).toContainEqual({
      name: 'created_at',
      type: 'timestamp with time zone',
      nullable: false,
      default: 'now()',
    });
    expect((await liveTable('model_prices')).primaryKey).toEqual(['workspace_id', 'model_id', 'effective_from']);
    expect(ENTITIES.map((e) => t.db.getMetadata(e).tableName).sort()).toEqual([
      'api_keys',
      'catalog_sources',
      'model_price_windows',
      'model_prices',
      'models',
    ]);
  });

  it.each(ENTITIES.map((entity) => [entity.name, entity] as const))(
    '%s maps its table: columns, types, nullability, defaults, primary and unique keys',
    async (_, entity) => {
      const metadata = t.db.getMetadata(entity);
      const live = await liveTable(metadata.tableName);
      expect(live.columns.length).toBeGreaterThan(0);
      expect(mappedTable(entity)).toEqual(live);
    },
  );

  it('keeps numeric prices as exact decimal strings, bytea as a Buffer, timestamptz as a Date', async () => {
    const workspaceId = 'entities-roundtrip';
    const modelId = '00000000-0000-4000-8000-00000000e171';
    const priceRow = {
      workspaceId,
      modelId,
      effectiveFrom: new Date('2026-01-01T00:00:00.123Z'),
      inputPerMillion: '0.123456789012345678901234567890',
      outputPerMillion: '12345678901234567890.5',
      cachedInputPerMillion: null,
      cacheWritePerMillion: '0.000001',
      cacheWrite1hPerMillion: '7.5',
      reasoningPerMillion: null,
      longContextAboveInputTokens: 200_000,
      longContextInputPerMillion: '0.246913578024691357802469135780',
      longContextOutputPerMillion: '20',
      longContextCachedInputPerMillion: null,
      longContextCacheWritePerMillion: null,
      longContextCacheWrite1hPerMillion: null,
      longContextReasoningPerMillion: null,
    };
    await t.db.transaction(async (tx) => {
      await tx.getRepository(ModelEntity).insert({
        workspaceId,
        id: modelId,
        provider: 'acmeai',
        model: 'exact-1',
        kind: 'language',
        source: 'workspace',
      });
      await tx.getRepository(ModelPriceEntity).insert(priceRow);
    });
    const [price] = await t.db.getRepository(ModelPriceEntity).findBy({ workspaceId, modelId });
    expect(price).toEqual(priceRow);

    const secretHash = Buffer.from('ab'.repeat(32), 'hex');
    await t.db.getRepository(ApiKeyEntity).insert({
      workspaceId,
      id: '00000000-0000-4000-8000-00000000e172',
      name: 'roundtrip',
      prefix: 'tt_x…',
      secretHash,
      createdBy: 'tester',
    });
    const key = await t.db
      .getRepository(ApiKeyEntity)
      .findOne({ where: { workspaceId, secretHash }, select: { id: true, secretHash: true, createdAt: true } });
    expect(key?.secretHash).toEqual(secretHash);
    expect(key?.createdAt).toBeInstanceOf(Date);

    const source = await t.db.getRepository(CatalogSourceEntity).findOneBy({ workspaceId: '' });
    expect(source).toMatchObject({ workspaceId: '', version: expect.any(String), loadedAt: expect.any(Date) });
  });
});
