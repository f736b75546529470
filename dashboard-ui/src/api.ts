/**
 * One way to call the server: JSON in and out, every failure an ApiFailure with the server's {error: {code, message}}
 * so screens can say what went wrong. The answer's type is the response schema's (protocol/api-*.ts): a screen
 * reads the fields the schema names, nothing is guessed.
 */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
}

function failureOf(status: number, statusText: string, text: string): ApiFailure {
  let data: { error?: { code?: string; message?: string } } | null = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  const err = data?.error;
  return new ApiFailure(status, err?.code ?? `http_${status}`, err?.message ?? statusText);
}

export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const init: RequestInit = { method: options.method ?? 'GET', headers, credentials: 'same-origin' };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiFailure(0, 'network', String((error as Error)?.message ?? error));
  }
  const text = await response.text();
  if (!response.ok) throw failureOf(response.status, response.statusText, text);
  return (text ? JSON.parse(text) : null) as T;
}

export interface Upload<T> {
  done: Promise<T>;
  cancel(): void;
}

/**
 * A file PUT as the request body (the server streams it to disk), with upload progress: fetch cannot report how
 * much of a body was sent, XMLHttpRequest can. `cancel()` aborts; `done` then rejects with code `cancelled`.
 */
export function uploadFile<T>(path: string, file: Blob, onProgress: (sent: number, total: number) => void): Upload<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    xhr.open('PUT', path);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText) as T);
      else reject(failureOf(xhr.status, xhr.statusText, xhr.responseText));
    });
    xhr.addEventListener('error', () => reject(new ApiFailure(0, 'network', 'the upload did not reach the server')));
    xhr.addEventListener('abort', () => reject(new ApiFailure(0, 'cancelled', 'upload cancelled')));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}
