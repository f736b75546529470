// One way to call the server: JSON in and out, and every failure as an ApiFailure with the server's
// {error: {code, message}} so screens can say what went wrong instead of breaking.
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, options = {}) {
  const init = { method: options.method ?? 'GET', headers: { accept: 'application/json' }, credentials: 'same-origin' };
  if (options.body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiFailure(0, 'network', String(error?.message ?? error));
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = data?.error;
    throw new ApiFailure(response.status, err?.code ?? `http_${response.status}`, err?.message ?? response.statusText);
  }
  return data;
}

/** The list inside an answer: the answer itself when it is an array, else its first array-valued field. */
export function listOf(data, ...preferred) {
  if (Array.isArray(data)) return data;
  if (!data || typeof data !== 'object') return [];
  for (const key of preferred) if (Array.isArray(data[key])) return data[key];
  const found = Object.values(data).find(Array.isArray);
  return found ?? [];
}

/** The object inside an answer like {device: {...}} or the answer itself. */
export function objectOf(data, key) {
  return data && typeof data === 'object' && data[key] && typeof data[key] === 'object' ? data[key] : data;
}
