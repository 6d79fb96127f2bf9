import {decodePacket, encodePacket, MODIFIER1, varsSize} from '../../src/protocol/uwsgi-packet.js';

describe('uwsgi packet codec', () => {
  it('encodes the header little-endian and the vars as length-prefixed pairs (UWSGI-REFERENCE §13 example)', () => {
    const packet = encodePacket(0, 0, [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/']]);
    expect(packet.subarray(0, 4)).toEqual(Buffer.from([0x00, 0x23, 0x00, 0x00]));
    expect(packet.subarray(4, 25)).toEqual(Buffer.concat([Buffer.from([14, 0]), Buffer.from('REQUEST_METHOD'), Buffer.from([3, 0]), Buffer.from('GET')]));
    expect(packet.length).toBe(4 + 35);
    expect(varsSize([['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/']])).toBe(35);
  });

  it('decodes what it encodes, keeping the first of a repeated key, binary values and the bytes after the vars', () => {
    const packet = Buffer.concat([encodePacket(MODIFIER1.SUBSCRIPTION, 1, [['key', 'a.test'], ['key', 'b.test'], ['bin', Buffer.from([0, 255, 10])]]), Buffer.from('body')]);
    const decoded = decodePacket(packet);
    if (!decoded.ok) throw new Error(decoded.error.reason);
    expect(decoded.value.modifier1).toBe(224);
    expect(decoded.value.modifier2).toBe(1);
    expect(decoded.value.vars.get('key')?.toString()).toBe('a.test');
    expect(decoded.value.vars.get('bin')).toEqual(Buffer.from([0, 255, 10]));
    expect(decoded.value.rest.toString()).toBe('body');
  });

  it('refuses short headers, announced sizes that did not come and truncated pairs, naming what is wrong', () => {
    expect(decodePacket(Buffer.from([224, 0]))).toMatchObject({ok: false});
    expect(decodePacket(Buffer.from([224, 10, 0, 0, 1, 2]))).toMatchObject({ok: false, error: {reason: expect.stringContaining('announces 10 bytes') as string}});
    const truncated = Buffer.from([224, 5, 0, 0, 3, 0, 107, 101, 121]);
    expect(decodePacket(truncated)).toMatchObject({ok: false, error: {reason: 'truncated key'}});
    const badValue = Buffer.from([224, 8, 0, 0, 1, 0, 107, 9, 0, 1, 2, 3]);
    expect(decodePacket(badValue)).toMatchObject({ok: false});
  });
});
