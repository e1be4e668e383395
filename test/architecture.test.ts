import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file names: static imports and re-exports, dynamic import(), require(). */
function importsOf(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of withoutComments.matchAll(pattern)) specifiers.push(match[1]!);
  }
  return specifiers;
}

interface Violation {
  file: string;
  imports: string;
}

/** Imports of the files under `layer` that resolve neither into `allowedDirs` nor to an allowed package. */
function violations(layer: string, allowedDirs: string[], allowedPackages: string[] = []): Violation[] {
  const found: Violation[] = [];
  for (const file of tsFiles(join(SRC, layer))) {
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const ok = specifier.startsWith('.')
        ? allowedDirs.some((dir) => {
            const target = resolve(dirname(file), specifier);
            const allowed = join(SRC, dir);
            return target === allowed || target.startsWith(allowed + sep);
          })
        : allowedPackages.includes(specifier);
      if (!ok) found.push({ file: relative(ROOT, file), imports: specifier });
    }
  }
  return found;
}

describe('layer rules', () => {
  it('finds the source files and their imports (the checks below are not vacuous)', () => {
    const domain = tsFiles(join(SRC, 'domain'));
    const application = tsFiles(join(SRC, 'application'));
    expect(domain.length).toBeGreaterThan(3);
    expect(application.length).toBeGreaterThan(3);
    const ingest = readFileSync(join(SRC, 'application', 'use-cases', 'ingest-usage.ts'), 'utf8');
    expect(importsOf(ingest)).toEqual(expect.arrayContaining(['tsyringe', '../../domain/cost']));
    expect(importsOf(`import type { A } from 'x';\nexport * from "./y";\nconst z = await import('node:fs');`)).toEqual([
      'x',
      './y',
      'node:fs',
    ]);
  });

  it('src/domain imports nothing outside src/domain: no other layer, no package, no node: builtin', () => {
    expect(violations('domain', ['domain'])).toEqual([]);
  });

  it('src/application imports only src/domain, src/application and tsyringe', () => {
    expect(violations('application', ['domain', 'application'], ['tsyringe'])).toEqual([]);
  });
});
