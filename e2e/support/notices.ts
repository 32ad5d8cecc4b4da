import type { Page } from '@playwright/test';
import { expect } from './fixtures';

/**
 * What the popover's notices must be after each situation a user meets: the
 * situations still true now (by key, nothing more), no two saying the same
 * thing, each one line, and the ports list still in view below them.
 */
export async function expectNotices(page: Page, keys: readonly string[]): Promise<void> {
  const rows = page.locator('[data-notice-key]');
  await expect.poll(() => rows.evaluateAll((els) => els.map((el) => el.getAttribute('data-notice-key')))).toEqual(keys);
  const texts = await page.locator('[data-notice-key] .notice-text').allTextContents();
  expect(new Set(texts).size, `the same notice twice: ${JSON.stringify(texts)}`).toBe(texts.length);
  for (const height of await page.locator('[data-notice-key] .notice-text').evaluateAll((els) =>
    els.map((el) => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)),
  )) {
    expect(height, 'a notice takes more than one line').toBeLessThan(1.5);
  }
  await expect(page.getByRole('heading', { name: 'Published ports' })).toBeInViewport();
}
