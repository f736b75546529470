import { describe, expect, it } from 'vitest';
import { devicePublishTopic, mayDevicePublish, mayDeviceSubscribe, parseTopic, TOPIC_ROOT, topics } from './topics.js';

describe('topic builders and parser', () => {
  it('round-trips every topic', () => {
    for (const kind of ['status', 'health', 'sync', 'stats', 'events', 'commands', 'manifest'] as const) {
      expect(parseTopic(topics[kind]('k-1'))).toEqual({ deviceId: 'k-1', kind });
    }
    expect(parseTopic(topics.commandResult('k-1', 'c-9'))).toEqual({ deviceId: 'k-1', kind: 'commandResult', commandId: 'c-9' });
  });

  it('builds the documented strings', () => {
    expect(topics.health('k-1')).toBe('fleet/v1/devices/k-1/health');
    expect(topics.commandResult('k-1', 'c1')).toBe('fleet/v1/devices/k-1/commands/c1/result');
  });

  it('refuses to build a topic from a wildcard or separator', () => {
    for (const bad of ['+', '#', 'a/b', '']) expect(() => topics.health(bad)).toThrow();
    expect(() => topics.commandResult('k-1', '#')).toThrow();
  });

  it("rejects another device's id when the owner is given", () => {
    expect(parseTopic(topics.health('k-2'), 'k-1')).toBeNull();
    expect(parseTopic(topics.health('k-1'), 'k-1')).not.toBeNull();
  });

  it.each([
    ['wildcard +', `${TOPIC_ROOT}/+/health`],
    ['wildcard #', `${TOPIC_ROOT}/k-1/#`],
    ['wildcard in the middle', `${TOPIC_ROOT}/k-1/commands/+/result`],
    ['empty device segment', `${TOPIC_ROOT}//health`],
    ['empty topic', ''],
    ['overlong device segment', `${TOPIC_ROOT}/${'a'.repeat(65)}/health`],
    ['overlong topic', `${TOPIC_ROOT}/k-1/${'a'.repeat(300)}`],
    ['extra level', `${TOPIC_ROOT}/k-1/health/extra`],
    ['extra level after result', `${TOPIC_ROOT}/k-1/commands/c1/result/x`],
    ['unknown suffix', `${TOPIC_ROOT}/k-1/firmware`],
    ['other root', 'fleet/v2/devices/k-1/health'],
    ['trailing slash', `${TOPIC_ROOT}/k-1/health/`],
    ['missing kind', `${TOPIC_ROOT}/k-1`],
  ])('rejects %s', (_name, topic) => {
    expect(parseTopic(topic)).toBeNull();
  });
});

describe('device ACL', () => {
  it('lets a device publish only its own device → server topics', () => {
    expect(mayDevicePublish('k-1', topics.health('k-1'))).toBe(true);
    expect(mayDevicePublish('k-1', topics.status('k-1'))).toBe(true);
    expect(mayDevicePublish('k-1', topics.commandResult('k-1', 'c1'))).toBe(true);
    expect(mayDevicePublish('k-1', topics.health('k-2'))).toBe(false);
    expect(mayDevicePublish('k-1', topics.commands('k-1'))).toBe(false);
    expect(mayDevicePublish('k-1', topics.manifest('k-1'))).toBe(false);
    expect(mayDevicePublish('k-1', 'anything/else')).toBe(false);
  });

  it('hands the broker the parsed topic of an allowed publish, and null for a refused one', () => {
    expect(devicePublishTopic('k-1', topics.health('k-1'))).toEqual({ deviceId: 'k-1', kind: 'health' });
    expect(devicePublishTopic('k-1', topics.commandResult('k-1', 'c1'))).toEqual({
      deviceId: 'k-1',
      kind: 'commandResult',
      commandId: 'c1',
    });
    expect(devicePublishTopic('k-1', topics.manifest('k-1'))).toBeNull();
    expect(devicePublishTopic('k-1', topics.health('k-2'))).toBeNull();
  });

  it('lets a device subscribe only to its own commands and manifest, without wildcards', () => {
    expect(mayDeviceSubscribe('k-1', topics.commands('k-1'))).toBe(true);
    expect(mayDeviceSubscribe('k-1', topics.manifest('k-1'))).toBe(true);
    expect(mayDeviceSubscribe('k-1', topics.commands('k-2'))).toBe(false);
    expect(mayDeviceSubscribe('k-1', '#')).toBe(false);
    expect(mayDeviceSubscribe('k-1', `${TOPIC_ROOT}/k-1/#`)).toBe(false);
    expect(mayDeviceSubscribe('k-1', `${TOPIC_ROOT}/+/commands`)).toBe(false);
    expect(mayDeviceSubscribe('k-1', topics.health('k-1'))).toBe(false);
  });

  it('gives the server wildcard subscriptions that match every device topic', () => {
    expect(topics.serverSubscriptions()).toContain(`${TOPIC_ROOT}/+/health`);
    expect(topics.serverSubscriptions()).toContain(`${TOPIC_ROOT}/+/commands/+/result`);
  });
});
