import type { RequestView, Warning, Field } from './backend/types';

/** A request that left the inbox, shown for a while with the reason. */
export interface Departed {
  key: string;
  view: RequestView;
  reason: string;
  /** Unix seconds when it left. */
  at: number;
}

function fieldWarnings(fields: readonly Field[]): Warning[] {
  return fields.flatMap((f) => {
    const nested =
      f.value.kind === 'object' ? fieldWarnings(f.value.fields) : f.value.kind === 'array' ? fieldWarnings(f.value.items) : [];
    return [...f.warnings, ...nested];
  });
}

/** Every warning of a display model: request level, then each detail's, then its fields'. */
export function allWarnings(view: RequestView): Warning[] {
  const display = view.display;
  return [
    ...display.warnings,
    ...display.details.flatMap((d) => [...d.warnings, ...fieldWarnings(d.fields), ...fieldWarnings(d.undescribed)]),
  ];
}
