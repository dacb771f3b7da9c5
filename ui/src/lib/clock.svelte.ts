// One shared ticking clock (Unix seconds) for every countdown, so a page full of
// requests costs one timer, not one per item.
let now = $state(Math.floor(Date.now() / 1000));
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

export const clock = {
  get now(): number {
    return now;
  },
};

/** Starts ticking while at least one component uses the clock; returns the stop function. */
export function useClock(): () => void {
  users += 1;
  now = Math.floor(Date.now() / 1000);
  if (timer === undefined) {
    timer = setInterval(() => {
      now = Math.floor(Date.now() / 1000);
    }, 1000);
  }
  return () => {
    users -= 1;
    if (users === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
