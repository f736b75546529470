/**
 * The steps the dashboard's browser tests share: Chromium (playwright-core on the system's /usr/bin/chromium), a
 * person logging in through the page's own form, screenshots into test-results/dashboard/, and the check that no
 * raw key (`neverApplied`, `in_review`) shows through the interface.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const DASHBOARD_SHOTS = join(process.cwd(), 'test-results', 'dashboard');

export interface Person {
  username: string;
  password: string;
}

export function launchDashboardBrowser(): Promise<Browser> {
  mkdirSync(DASHBOARD_SHOTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}

/** Logs in through the login form and waits until the page names the person. */
export async function login(page: Page, baseUrl: string, who: Person): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.locator('#login-form').waitFor();
  await page.fill('input[name=username]', who.username);
  await page.fill('input[name=password]', who.password);
  await page.click('#login-form button[type=submit]');
  await page.locator('#who', { hasText: who.username }).waitFor();
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(DASHBOARD_SHOTS, `${name}.png`), fullPage: true });

/** Text nodes of the page that look like an identifier (`neverApplied`, `in_review`) rather than words. */
const RAW_KEYS_SCRIPT = `(() => {
  const found = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('.mono, input, textarea')) continue;
    for (const word of (node.textContent || '').split(/[\\s,;:()·/]+/)) {
      if (/^[a-z]+[A-Z][A-Za-z]*$/.test(word) || /^(draft|in_review|published|retired|syncFailed)$/.test(word)) found.push(word);
    }
  }
  return found;
})()`;

export function rawKeys(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(RAW_KEYS_SCRIPT);
}
