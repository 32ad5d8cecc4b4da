import { describe, expect, it } from 'vitest';
import { notNeededReason } from './need';

describe('which ports need the helper', () => {
  it('Linux: below ip_unprivileged_port_start only, for anyone but root', () => {
    const linux = { platform: 'linux' as const, unprivilegedStart: 1024, peerUid: 1000, address: '127.0.0.1' };
    expect(notNeededReason({ ...linux, port: 1023 })).toBeUndefined();
    expect(notNeededReason({ ...linux, port: 1024 })).toMatch(/from 1024 up/);
    expect(notNeededReason({ ...linux, port: 80, unprivilegedStart: 80 })).toMatch(/from 80 up/);
    expect(notNeededReason({ ...linux, port: 0 + 79, unprivilegedStart: 80 })).toBeUndefined();
    expect(notNeededReason({ ...linux, port: 80, peerUid: 0 })).toBe('root binds ports itself');
    // Wildcards are no different on Linux.
    expect(notNeededReason({ ...linux, port: 80, address: '0.0.0.0' })).toBeUndefined();
  });

  it('macOS: below 1024 on a specific address only (users may bind the wildcards since Mojave)', () => {
    const mac = { platform: 'darwin' as const, peerUid: 501 };
    expect(notNeededReason({ ...mac, address: '127.0.0.1', port: 80 })).toBeUndefined();
    expect(notNeededReason({ ...mac, address: '::1', port: 443 })).toBeUndefined();
    expect(notNeededReason({ ...mac, address: '0.0.0.0', port: 80 })).toMatch(/0\.0\.0\.0 and ::/);
    expect(notNeededReason({ ...mac, address: '::', port: 80 })).toMatch(/0\.0\.0\.0 and ::/);
    expect(notNeededReason({ ...mac, address: '127.0.0.1', port: 1024 })).toMatch(/from 1024 up/);
  });
});
