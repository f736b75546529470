/**
 * Sets the fuzzed server up over its own API, as an installer would: the admin signs in, makes an API token,
 * creates enrollment tokens, and two kiosks enroll with them (one to fuzz, one to behave).
 */
import { EnrollmentTokensCreated, EnrollResponse } from '../../protocol/index.js';
import type { DeviceCredentials } from './recorder.js';

export interface FuzzSetup {
  cookie: string;
  bearer: string;
  fuzzed: DeviceCredentials;
  good: DeviceCredentials;
}

async function call(httpUrl: string, method: string, path: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${httpUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return { response, json: JSON.parse(text) as unknown };
}

export async function setUpFleet(httpUrl: string, adminPassword: string): Promise<FuzzSetup> {
  const login = await call(httpUrl, 'POST', '/api/v1/auth/login', { username: 'admin', password: adminPassword }, {});
  const cookie = (login.response.headers.get('set-cookie') ?? '').split(';')[0] as string;
  if (!cookie.startsWith('fleet_session=')) throw new Error('the admin login set no session cookie');
  const origin = { cookie, origin: httpUrl };
  const token = await call(httpUrl, 'POST', '/api/v1/auth/tokens', { name: 'fuzz harness' }, origin);
  const bearer = (token.json as { token: string }).token;
  const created = EnrollmentTokensCreated.parse(
    (await call(httpUrl, 'POST', '/api/v1/enrollment-tokens', { siteId: 'gl-c-iao', count: 2 }, origin)).json,
  );
  const enroll = async (token: string, serial: string): Promise<DeviceCredentials> => {
    const facts = { serial, model: 'fuzz-kiosk', mac: '00:00:00:00:00:00', hostname: serial };
    const { json } = await call(httpUrl, 'POST', '/api/v1/enroll', { token, facts }, {});
    const enrolled = EnrollResponse.parse(json);
    return { id: enrolled.deviceId, secret: enrolled.secret };
  };
  const [first, second] = created.tokens;
  if (!first || !second) throw new Error('expected two enrollment tokens');
  return { cookie, bearer, fuzzed: await enroll(first.token, 'SN-FUZZ-1'), good: await enroll(second.token, 'SN-GOOD-1') };
}
