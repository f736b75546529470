import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { decodeUtf8, readCsv, requireColumns } from './csv.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('readCsv', () => {
  it('reads UTF-8 with a BOM, keeps diacritics, numbers records by their first line', () => {
    const csv = readCsv(utf8('\uFEFFID,Name\n\n"a",Đức Cơ\n"b","Ia\nPúch"\nc,Lệ Thanh\n'));
    expect(csv.header).toEqual(['id', 'name']);
    expect(csv.records).toEqual([
      { line: 3, fields: ['a', 'Đức Cơ'] },
      { line: 4, fields: ['b', 'Ia\nPúch'] },
      { line: 6, fields: ['c', 'Lệ Thanh'] },
    ]);
  });

  it('refuses Latin-1 and UTF-16 bytes, naming the line', () => {
    const latin1 = Buffer.from('id,name\nx,Ia Pn\xF4n\n', 'latin1');
    expect(() => decodeUtf8(latin1)).toThrow(/not UTF-8 \(byte 0xF4 on line 2/);
    const utf16 = Buffer.from('\uFEFFid,name\n', 'utf16le');
    expect(() => readCsv(utf16)).toThrow(DomainError);
  });

  it('refuses an empty file and a header missing columns', () => {
    expect(() => readCsv(utf8(''))).toThrow(/empty/);
    expect(() => requireColumns(['id', 'name'], ['id', 'kind', 'site'])).toThrow(/lacks column\(s\) kind, site/);
  });
});
