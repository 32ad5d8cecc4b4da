import { describe, expect, it } from 'vitest';
import { parseRoute } from './route';

describe('parseRoute', () => {
  it.each([
    ['file:///app/dist/renderer/index.html#popover', 'popover'],
    ['file:///app/dist/renderer/index.html#settings', 'settings'],
    ['file:///app/dist/renderer/index.html#consent', 'consent'],
    ['http://127.0.0.1:4711/#/settings', 'settings'],
    ['http://127.0.0.1:4711/?view=consent', 'consent'],
    ['http://127.0.0.1:4711/', 'popover'],
    ['http://127.0.0.1:4711/#nonsense', 'popover'],
    ['http://127.0.0.1:4711/?view=admin#x', 'popover'],
  ])('%s shows %s', (href, view) => {
    expect(parseRoute(href).view).toBe(view);
  });

  it('takes the theme override only when it is light or dark', () => {
    expect(parseRoute('http://127.0.0.1:1/?theme=dark').theme).toBe('dark');
    expect(parseRoute('http://127.0.0.1:1/?theme=light#settings')).toEqual({ view: 'settings', theme: 'light', intent: null });
    expect(parseRoute('http://127.0.0.1:1/?theme=neon').theme).toBeNull();
    expect(parseRoute('http://127.0.0.1:1/').theme).toBeNull();
  });

  it('reads #add-port as the popover with its add-port form to open (the tray menu), and nothing else as that intent', () => {
    expect(parseRoute('berth://app/index.html#add-port')).toEqual({ view: 'popover', theme: null, intent: 'add-port' });
    expect(parseRoute('berth://app/index.html?view=settings#add-port')).toEqual({ view: 'popover', theme: null, intent: 'add-port' });
    expect(parseRoute('berth://app/index.html#popover').intent).toBeNull();
    expect(parseRoute('berth://app/index.html?view=add-port').intent).toBeNull();
    expect(parseRoute('berth://app/index.html#add-ports')).toEqual({ view: 'popover', theme: null, intent: null });
  });
});
