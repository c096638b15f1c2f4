import { describe, expect, it } from 'vitest';
import { ackListOf } from '../../../../src/pipeline/spool/spill.js';
import { AckRecorder } from '../helpers.js';

/**
 * The acks a spooled request carries are runs of one target's consecutive tokens (a file's
 * checkpoint hands out sequence numbers): a batch from a few files is a few runs, whatever its length.
 */
describe('ackListOf', () => {
  it('makes one run per stretch of one target with consecutive tokens, in order', () => {
    const a = new AckRecorder();
    const b = new AckRecorder();
    const records = [
      { ack: a, ackToken: 7 },
      { ack: a, ackToken: 8 },
      { ack: a, ackToken: 9 },
      { ack: b, ackToken: 1 },
      {}, // no ack: a metric point, an event
      { ack: b, ackToken: 2 },
      { ack: a, ackToken: 10 },
      { ack: a, ackToken: 12 }, // a gap: a new run
    ];
    expect(ackListOf(records, 0, records.length)).toEqual({ targets: [a, b, a, a], firsts: [7, 1, 10, 12], counts: [3, 2, 1, 1] });
    expect(ackListOf(records, 1, 4)).toEqual({ targets: [a, b], firsts: [8, 1], counts: [2, 1] });
    expect(ackListOf([{}, {}], 0, 2)).toEqual({ targets: [], firsts: [], counts: [] });
  });
});
