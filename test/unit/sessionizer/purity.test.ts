import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../../src/sessionizer');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

describe('the sessionizer core stays pure', () => {
  it.each(files)('%s imports only its siblings and reads no clock', (file) => {
    const source = readFileSync(join(dir, file), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    for (const spec of imports) expect(spec).toMatch(/^\.\/[\w-]+\.ts$/);
    expect(source).not.toMatch(/Date\.now|performance\.now|new Date\(|setTimeout|setInterval|Math\.random/);
  });
});
