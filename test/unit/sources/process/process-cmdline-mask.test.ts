import { describe, expect, it } from 'vitest';
import { maskCommandLine } from '../../../../src/sources/process/cmdline-mask.js';

describe('maskCommandLine', () => {
  it.each([
    ['mysqld --password=hunter2 --port=3306', 'mysqld --password=[redacted] --port=3306'],
    ['app --token abc123 --verbose', 'app --token [redacted] --verbose'],
    ['env PGPASSWORD=s3cr3t psql -h db', 'env PGPASSWORD=[redacted] psql -h db'],
    ['java -Dspring.datasource.password=foo -jar app.jar', 'java -Dspring.datasource.password=[redacted] -jar app.jar'],
    ['agent --api-key=k --apikey k2 --api_key=k3', 'agent --api-key=[redacted] --apikey [redacted] --api_key=[redacted]'],
    ['curl https://user:s3cret@example.com/x', 'curl https://user:[redacted]@example.com/x'],
    ['psql postgres://app:pa55@db:5432/shop', 'psql postgres://app:[redacted]@db:5432/shop'],
    ['vault --client-secret=xyz --secret-id abc', 'vault --client-secret=[redacted] --secret-id [redacted]'],
    ['svc --private-key=/k.pem --credentials=/c.json', 'svc --private-key=[redacted] --credentials=[redacted]'],
  ])('masks %s', (input, expected) => {
    expect(maskCommandLine(input)).toBe(expected);
  });

  it.each([
    'sleep 60',
    'nginx -g daemon off;',
    'kube-apiserver --authorization-mode=Node,RBAC --secure-port=6443',
    'proxy --passthrough=true --max-tokens=5',
    'git clone https://example.com/repo.git',
    'app --password', // a flag with no value: nothing to mask
    'app --token --verbose', // the next argument is a flag, not the value
  ])('leaves %s alone', (input) => {
    expect(maskCommandLine(input)).toBe(input);
  });

  it('never throws and stays linear on hostile input', () => {
    const long = `${'--password='.repeat(20_000)}x`;
    const t0 = performance.now();
    expect(() => maskCommandLine(long)).not.toThrow();
    expect(() => maskCommandLine('\u0000\ufffd'.repeat(50_000))).not.toThrow();
    expect(() => maskCommandLine(`${'a'.repeat(100_000)}=${'b'.repeat(100_000)}`)).not.toThrow();
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});
