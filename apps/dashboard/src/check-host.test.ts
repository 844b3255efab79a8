import { describe, expect, it } from 'vitest';
import { parseEnv } from '@switchyard/observability';
import { allowedHosts, hostNameOf, hostProblem } from './check-host.js';
import { dashboardEnvSchema } from './env.js';

const config = (env: Record<string, string>) =>
  parseEnv(dashboardEnvSchema, { DASHBOARD_PASSWORD: 'long-enough', ...env });

describe('hostNameOf', () => {
  it('drops the port, lower-cases, keeps IPv6 brackets and drops a trailing dot', () => {
    expect(hostNameOf('Ops.Example.COM:3001')).toBe('ops.example.com');
    expect(hostNameOf('[::1]:3001')).toBe('[::1]');
    expect(hostNameOf('localhost.')).toBe('localhost');
    expect(hostNameOf('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('the Host allowlist', () => {
  it('answers loopback names and the bound address by default, and nothing else', () => {
    const hosts = allowedHosts(config({ HOST: '10.0.0.5' }));
    for (const host of ['localhost:3001', '127.0.0.1:3001', '[::1]:3001', '10.0.0.5:3001']) {
      expect(hostProblem(host, hosts), host).toBeUndefined();
    }
    for (const host of ['evil.example:3001', 'localhost.evil.example', '127.0.0.1.nip.io', '']) {
      expect(hostProblem(host, hosts), host).toBeDefined();
    }
  });

  it('does not answer for every name when bound to every interface', () => {
    for (const HOST of ['0.0.0.0', '::']) {
      const hosts = allowedHosts(config({ HOST }));
      expect(hostProblem('0.0.0.0:3001', hosts)).toBeDefined();
      expect(hostProblem('[::]:3001', hosts)).toBeDefined();
      expect(hostProblem('localhost:3001', hosts)).toBeUndefined();
    }
  });

  it('adds DASHBOARD_HOSTS and the names of DASHBOARD_ORIGINS; * answers any', () => {
    const hosts = allowedHosts(
      config({
        DASHBOARD_HOSTS: 'dashboard.internal, [fd00::5]',
        DASHBOARD_ORIGINS: 'https://ops.example.com',
      }),
    );
    for (const host of ['dashboard.internal:3001', '[fd00::5]:3001', 'OPS.example.com']) {
      expect(hostProblem(host, hosts), host).toBeUndefined();
    }
    expect(hostProblem('other.example.com', hosts)).toMatch(
      /Host "other.example.com" is not a name of this dashboard \(DASHBOARD_HOSTS\)/,
    );
    expect(hostProblem('anything:1', allowedHosts(config({ DASHBOARD_HOSTS: '*' })))).toBe(
      undefined,
    );
  });

  it('refuses a DASHBOARD_HOSTS entry with a scheme or port, naming the variable', () => {
    for (const entry of ['https://ops.example.com', 'ops.example.com:443', 'a b']) {
      expect(() => config({ DASHBOARD_HOSTS: entry }), entry).toThrow(
        /DASHBOARD_HOSTS: ".*" is not a host name like ops\.example\.com/,
      );
    }
  });
});
