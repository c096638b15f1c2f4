import { describe, expect, it } from 'vitest';
import { gatewayHeapFloorMiB, heapFloorArgv, heapFloorIn } from '../../../src/self/gateway-heap.js';

const MiB = 1024 * 1024;

describe('the gateway heap floor', () => {
  it('a quarter of the memory limit within 32-256 MiB, 256 MiB without one, or what gateway.heapFloor says', () => {
    expect(gatewayHeapFloorMiB(0, undefined)).toBe(256);
    expect(gatewayHeapFloorMiB(0, 512 * MiB)).toBe(128);
    expect(gatewayHeapFloorMiB(0, 64 * MiB)).toBe(32);
    expect(gatewayHeapFloorMiB(0, 16 * 1024 * MiB)).toBe(256);
    expect(gatewayHeapFloorMiB(48 * MiB, undefined)).toBe(48);
    expect(gatewayHeapFloorMiB(48 * MiB + 5, 512 * MiB)).toBe(48);
  });

  it('reads the flag in both spellings, the last one winning', () => {
    expect(heapFloorIn([])).toBeUndefined();
    expect(heapFloorIn(['--initial_old_space_size=10', '--stack-trace-limit=5', '--initial-old-space-size=20'])).toBe(20);
    expect(heapFloorIn(['--initial-old-space-size=abc'])).toBeUndefined();
  });

  it('restarts only when the floor is missing, or set by configuration and different', () => {
    expect(heapFloorArgv(['--initial-old-space-size=256'], 256, false)).toBeUndefined();
    expect(heapFloorArgv(['--initial-old-space-size=256'], 256, true)).toBeUndefined();
    expect(heapFloorArgv(['--enable-source-maps'], 256, false)).toEqual(['--initial-old-space-size=256', '--enable-source-maps']);
    // Given by whoever started Node: kept unless gateway.heapFloor is set.
    expect(heapFloorArgv(['--initial-old-space-size=100'], 256, false)).toBeUndefined();
    expect(heapFloorArgv(['--initial_old_space_size=100', '--trace-warnings'], 64, true)).toEqual(['--initial-old-space-size=64', '--trace-warnings']);
  });
});
