import { describe, expect, it } from 'vitest';
import { riskLabel, riskTone } from './risk';

describe('risk', () => {
  it('spells out every known level', () => {
    expect(riskLabel('low')).toBe('Low risk');
    expect(riskLabel('medium')).toBe('Medium risk');
    expect(riskLabel('high')).toBe('High risk');
    expect(riskLabel('critical')).toBe('Critical risk');
  });

  it('treats unknown levels cautiously and still names them', () => {
    expect(riskLabel('toString')).toBe('Unknown risk (toString)');
    expect(riskTone('toString')).toBe('critical');
    expect(riskTone('low')).toBe('low');
  });
});
