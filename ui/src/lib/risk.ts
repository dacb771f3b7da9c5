import { RISKS, type Risk } from './backend/types';

const LABELS: Record<Risk, string> = {
  low: 'Low risk',
  medium: 'Medium risk',
  high: 'High risk',
  critical: 'Critical risk',
};

function isRisk(value: string): value is Risk {
  return (RISKS as readonly string[]).includes(value);
}

/** The words shown for a risk level. Unknown values (a newer server) are never hidden. */
export function riskLabel(risk: string): string {
  return isRisk(risk) ? LABELS[risk] : `Unknown risk (${risk})`;
}

/** The CSS modifier for a risk level; unknown values get the most cautious look. */
export function riskTone(risk: string): Risk {
  return isRisk(risk) ? risk : 'critical';
}
