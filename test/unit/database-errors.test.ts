// Which database errors of a read reach clients as QUERY_TIMEOUT: a
// statement cancelled by statement_timeout, a read transaction that expired,
// and one aborted by such a cancellation (25P02), as Prisma reports them;
// any other error does not.
import { describe, expect, it } from 'vitest';
import { isQueryTimeout } from '../../src/server/database-errors.ts';

/** The shape of Prisma's error for a failed raw query (PrismaClientKnownRequestError, P2010). */
function rawQueryFailed(code: string, message: string): Error {
  return Object.assign(new Error(`\nInvalid \`prisma.$queryRawUnsafe()\` invocation:\n\n\nRaw query failed. Code: \`${code}\`. Message: \`${message}\``), {
    code: 'P2010',
    meta: { code, message },
  });
}

describe('isQueryTimeout', () => {
  it('takes cancellations, expired read transactions and transactions aborted by them', () => {
    expect(isQueryTimeout(rawQueryFailed('57014', 'canceling statement due to statement timeout'))).toBe(true);
    expect(isQueryTimeout(rawQueryFailed('25P02', 'current transaction is aborted, commands ignored until end of transaction block'))).toBe(true);
    expect(isQueryTimeout(Object.assign(new Error('Transaction already closed'), { code: 'P2028' }))).toBe(true);
    expect(isQueryTimeout(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '57014' }) }))).toBe(true);
  });

  it('leaves every other error alone', () => {
    expect(isQueryTimeout(rawQueryFailed('42703', 'column "nope" does not exist'))).toBe(false);
    expect(isQueryTimeout(rawQueryFailed('22012', 'division by zero'))).toBe(false);
    expect(isQueryTimeout(new Error('something else'))).toBe(false);
    expect(isQueryTimeout(undefined)).toBe(false);
  });
});
