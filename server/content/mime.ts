/**
 * What a file really is, from its first bytes, and which files each content kind may carry.
 * `file-type` knows binary formats by their magic numbers; it does not detect text, so plain text and HTML
 * (bulletins and web pages) are recognised here: valid UTF-8 without control bytes.
 */
import { TextDecoder } from 'node:util';
import { fileTypeFromBuffer } from 'file-type';
import type { ContentKind } from '../../protocol/index.js';

/** Bytes examined to decide the type: enough for file-type (4100) and for an HTML prologue. */
export const SNIFF_BYTES = 64 * 1024;

/** Detects a mime type from the head of a file; `complete` says the head is the whole file. */
export async function sniffMime(head: Uint8Array, complete: boolean): Promise<string> {
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime;
  if (!looksLikeText(head, complete)) return 'application/octet-stream';
  return looksLikeHtml(head) ? 'text/html' : 'text/plain';
}

function looksLikeText(head: Uint8Array, complete: boolean): boolean {
  if (head.length === 0) return false;
  try {
    // stream: the head may end inside a multi-byte character; the rest is checked as it arrives.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !complete });
  } catch {
    return false;
  }
  for (const byte of head) {
    // Control bytes other than tab, LF, FF, CR mean binary.
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0c && byte !== 0x0d) return false;
  }
  return true;
}

function looksLikeHtml(head: Uint8Array): boolean {
  const start = new TextDecoder('utf-8')
    .decode(head.subarray(0, 2048))
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  return /^(<!--[\s\S]*?-->\s*)*(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])/.test(start);
}

/** True when a text/* type needs its whole content checked as UTF-8 (the sniff saw only the head). */
export const isText = (mime: string) => mime.startsWith('text/');

const PDF = 'application/pdf';

/** The file types each kind accepts. A leaflet/poster is an image or a PDF; a web page is HTML. */
export function kindAccepts(kind: ContentKind, mime: string): boolean {
  switch (kind) {
    case 'document':
      return mime === PDF;
    case 'video':
      return mime.startsWith('video/');
    case 'image':
      return mime.startsWith('image/');
    case 'audio':
      return mime.startsWith('audio/');
    case 'bulletin':
      return mime === 'text/plain' || mime === PDF;
    case 'leaflet':
      return mime.startsWith('image/') || mime === PDF;
    case 'webpage':
      return mime === 'text/html';
  }
}

/** A declared Content-Type agrees with the detected one (parameters such as charset ignored). */
export function declaredMatches(declared: string | undefined, detected: string): boolean {
  if (!declared) return true;
  const base = declared.split(';')[0]?.trim().toLowerCase() ?? '';
  if (base === '' || base === 'application/octet-stream') return true;
  if (base === detected) return true;
  // Common aliases for the same bytes.
  const aliases: Record<string, string[]> = {
    'audio/mpeg': ['audio/mp3'],
    'audio/wav': ['audio/x-wav', 'audio/wave'],
  };
  return aliases[detected]?.includes(base) ?? false;
}
