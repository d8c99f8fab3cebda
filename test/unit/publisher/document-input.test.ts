import { MalformedRequestError, ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { parseJsonDocument } from '../../../client/src/publisher/json-document.js';
import { preparePayload } from '../../../client/src/publisher/payload-input.js';
import { decodeUtf8Text } from '../../../client/src/publisher/utf8-text.js';
import { yamlToJson } from '../../../client/src/publisher/yaml-document.js';

const malformed = (message: RegExp) =>
  expect.objectContaining({ code: 'MALFORMED_REQUEST', message: expect.stringMatching(message) });

describe('yamlToJson', () => {
  it('refuses an empty or comment-only document instead of publishing null', async () => {
    for (const text of ['', '\n\n', '# nothing here\n', '---\n', '---\n# still nothing\n'])
      await expect(yamlToJson(text)).rejects.toEqual(malformed(/YAML document is empty/));
    // Written out, null is what the author meant.
    expect(await yamlToJson('null')).toBeNull();
    expect(await yamlToJson('~')).toBeNull();
  });

  it('applies merge keys, later explicit keys winning', async () => {
    const doc = (await yamlToJson('d: &d {x: 1, z: 0}\nr:\n  <<: *d\n  y: 2\n  z: 3')) as Record<
      string,
      unknown
    >;
    expect(doc.r).toEqual({ x: 1, y: 2, z: 3 });
    expect(await yamlToJson('a: {x: 1}\nb: {y: 2}\nr:\n  <<: [{x: 1}, {y: 2}]')).toMatchObject({
      r: { x: 1, y: 2 },
    });
    await expect(yamlToJson('r:\n  <<: 5')).rejects.toEqual(malformed(/Merge sources must be maps/));
  });

  it('refuses numbers that JSON would change: infinities, NaN, integers a double cannot hold', async () => {
    await expect(yamlToJson('a: .inf')).rejects.toEqual(malformed(/a: .*Infinity.*not a JSON number/));
    await expect(yamlToJson('a: [1, -.inf]')).rejects.toEqual(malformed(/a\.1: .*-Infinity/));
    await expect(yamlToJson('a: .nan')).rejects.toEqual(malformed(/a: NaN/));
    await expect(yamlToJson('a: 1e400')).rejects.toEqual(malformed(/a: Infinity/));
    await expect(yamlToJson('big: 9007199254740993')).rejects.toEqual(
      malformed(/big: the integer 9007199254740993 .* 9007199254740992/),
    );
    // Exactly representable integers keep their value, however large.
    expect(await yamlToJson('a: 9007199254740992\nb: 1152921504606846976\nc: 0x10\nd: 1.5')).toEqual({
      a: 9007199254740992,
      b: 2 ** 60,
      c: 16,
      d: 1.5,
    });
  });

  it('refuses values JSON has no form for (binary, sets, timestamps) and collection keys', async () => {
    await expect(yamlToJson('a: !!binary aGVsbG8=')).rejects.toEqual(malformed(/a: .*binary/));
    await expect(yamlToJson('%YAML 1.1\n---\na: !!set {x}')).rejects.toEqual(malformed(/a: /));
    await expect(yamlToJson('? [a, b]\n: 1')).rejects.toEqual(malformed(/key .* not a scalar/));
    await expect(yamlToJson('a: !custom x')).rejects.toEqual(malformed(/Unresolved tag: !custom/));
  });

  it('still refuses duplicate keys and several documents; keeps a __proto__ key as data', async () => {
    await expect(yamlToJson('a: 1\na: 2')).rejects.toEqual(malformed(/Map keys must be unique/));
    await expect(yamlToJson('a: 1\n---\nb: 2')).rejects.toBeInstanceOf(MalformedRequestError);
    const doc = (await yamlToJson('__proto__: {x: 1}')) as object;
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(JSON.stringify(doc)).toBe('{"__proto__":{"x":1}}');
  });
});

describe('parseJsonDocument', () => {
  it('refuses a duplicated key, naming it and where it is', () => {
    expect(() => parseJsonDocument('{"a":1,"a":2}')).toThrow(malformed(/key 'a' appears twice/));
    expect(() => parseJsonDocument('{"r":[{"x":1},{"x":1,"\\u0078":2}]}')).toThrow(
      malformed(/key 'x' appears twice in r\.1/),
    );
    // The same key in different objects is fine.
    expect(parseJsonDocument('{"a":{"k":1},"b":{"k":"a"},"c":["a","a"]}')).toEqual({
      a: { k: 1 },
      b: { k: 'a' },
      c: ['a', 'a'],
    });
  });

  it('refuses numbers that would change: out of double range, integers a double cannot hold', () => {
    expect(() => parseJsonDocument('{"a":1e400}')).toThrow(malformed(/a: 1e400 .*Infinity/));
    expect(() => parseJsonDocument('[12345678901234567890]')).toThrow(
      malformed(/0: the integer 12345678901234567890/),
    );
    expect(parseJsonDocument('{"a":9007199254740992,"b":-1.5e10,"c":"12345678901234567890"}')).toEqual({
      a: 9007199254740992,
      b: -1.5e10,
      c: '12345678901234567890',
    });
  });

  it('ignores a byte order mark and still reports what does not parse', () => {
    expect(parseJsonDocument('\uFEFF{"a":1}')).toEqual({ a: 1 });
    expect(() => parseJsonDocument('')).toThrow(malformed(/does not parse/));
  });
});

describe('decodeUtf8Text', () => {
  it('refuses bytes that are not UTF-8 and drops a byte order mark', () => {
    expect(() => decodeUtf8Text(Buffer.from('a: caf\xE9', 'latin1'), 'YAML')).toThrow(
      malformed(/YAML input is not valid UTF-8/),
    );
    expect(decodeUtf8Text(Buffer.from('\uFEFFa: café', 'utf8'), 'YAML')).toBe('a: café');
  });
});

describe('document payloads', () => {
  it('refuses a document with a non-finite number instead of publishing null in its place', async () => {
    await expect(preparePayload({ document: { a: [1, Number.NaN] } })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(preparePayload({ document: { a: Number.POSITIVE_INFINITY } })).rejects.toThrow(
      /Infinity under key 'a' is not a JSON number/,
    );
  });
});
