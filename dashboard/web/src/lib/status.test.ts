import { describe, expect, it } from 'vitest';
import { asStatus, edgeColour, isStale, STATUS_COLOURS, statusColour, statusLabel, worstStatus } from './status';

describe('status colouring', () => {
  it('maps each status to its colour and unknown values to grey', () => {
    expect(statusColour('green')).toBe(STATUS_COLOURS.green);
    expect(statusColour('red')).toBe(STATUS_COLOURS.red);
    expect(statusColour('purple')).toBe(STATUS_COLOURS.grey);
    expect(asStatus(undefined)).toBe('grey');
    expect(statusLabel('amber')).toBe('degraded');
  });

  it('picks the worst status', () => {
    expect(worstStatus(['green', 'amber', 'grey'])).toBe('amber');
    expect(worstStatus(['green', 'red', 'amber'])).toBe('red');
    expect(worstStatus(['grey'])).toBe('grey');
    expect(worstStatus([])).toBe('grey');
  });

  it('colours flow edges by whether anything flows', () => {
    expect(edgeColour(null)).toBe(STATUS_COLOURS.grey);
    expect(edgeColour(0)).toBe(STATUS_COLOURS.grey);
    expect(edgeColour(12)).toBe(STATUS_COLOURS.green);
    expect(edgeColour(3, true)).toBe(STATUS_COLOURS.amber);
  });

  it('flags stale cards', () => {
    expect(isStale(100, 110)).toBe(false);
    expect(isStale(100, 130)).toBe(true);
    expect(isStale(null, 130)).toBe(true);
  });
});
