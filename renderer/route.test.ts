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
    expect(parseRoute('http://127.0.0.1:1/?theme=light#settings')).toEqual({ view: 'settings', theme: 'light' });
    expect(parseRoute('http://127.0.0.1:1/?theme=neon').theme).toBeNull();
    expect(parseRoute('http://127.0.0.1:1/').theme).toBeNull();
  });
});
