import { describe, expect, it } from 'vitest';
import { riskLabel, riskTone } from './risk';

describe('risk', () => {
  // Every known level is spelled out and keeps its own look; an unknown one is
  // still named, and looks as cautious as the highest level.
  it.each([
    ['low', 'Low risk', 'low'],
    ['medium', 'Medium risk', 'medium'],
    ['high', 'High risk', 'high'],
    ['critical', 'Critical risk', 'critical'],
    ['toString', 'Unknown risk (toString)', 'critical'],
  ])('%s: says %j, looks %s', (risk, label, tone) => {
    expect(riskLabel(risk)).toBe(label);
    expect(riskTone(risk)).toBe(tone);
  });
});
