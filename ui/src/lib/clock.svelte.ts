// One shared clock (Unix seconds) for everything on the page that shows time
// passing. It runs one timer, set for the earliest moment something visible
// changes: a countdown's next displayed step (every second in its last ten
// minutes, every minute before), a request's expiry, a departed request's
// fade. Nothing waiting, or the page hidden (the window in the tray): no
// timer at all, and the clock catches up the moment the page is shown.
let now = $state(nowSeconds());
/** When each user next needs the clock to move (Unix seconds). */
const wakes = new Map<symbol, number>();
/**
 * Longest single wait: a wake further off is reached in steps. Timers stop
 * while the computer sleeps, so after a resume the clock is at most this far
 * behind; and a browser runs a delay over 2^31 - 1 ms at once.
 */
const MAX_WAIT_MS = 60_000;
/** Users that need every second (`useClock`). */
let everySecond = 0;
let timer: ReturnType<typeof setInterval> | undefined;
let timerDue: number | undefined;

/** The current Unix second, read now (not reactive: for stamps, not for display). */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export const clock = {
  /**
   * The clock's time: it moves (and what reads it is updated) when a wake
   * comes due. While no timer is set the clock stands still, and a read
   * gets the real time: something first shown then reads the time it is
   * shown at, not when the clock last moved.
   */
  get now(): number {
    const moved = now;
    return timer === undefined ? nowSeconds() : moved;
  },
};

function pageVisible(): boolean {
  return typeof document === 'undefined' || document.visibilityState !== 'hidden';
}

/** Sets the one timer for the earliest wake (never sooner than the next second), or none. */
function schedule(): void {
  let due: number | undefined;
  if (pageVisible()) {
    for (const at of wakes.values()) due = due === undefined ? at : Math.min(due, at);
    if (everySecond > 0) due = now + 1;
    if (due !== undefined) due = Math.max(due, now + 1);
  }
  if (due === timerDue) return;
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  timerDue = due;
  if (due === undefined) return;
  // An interval cleared on its first run, i.e. a timeout: the tests fake
  // intervals, not timeouts (testing-library's own waits need real ones).
  const fire = setInterval(
    () => {
      clearInterval(fire);
      timer = undefined;
      timerDue = undefined;
      now = nowSeconds();
      schedule();
    },
    Math.min(Math.max(0, due * 1000 - Date.now()), MAX_WAIT_MS),
  );
  timer = fire;
}

if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    if (pageVisible()) now = nowSeconds();
    schedule();
  });
}

function hold(register: () => void, release: () => void): () => void {
  now = nowSeconds();
  register();
  schedule();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
    schedule();
  };
}

/** Moves the clock to `at` (Unix seconds) when that time comes; returns the release function. */
export function wakeClockAt(at: number): () => void {
  const key = Symbol('wake');
  return hold(
    () => wakes.set(key, at),
    () => wakes.delete(key),
  );
}

/** Ticks every second while held (and the page is visible); returns the release function. */
export function useClock(): () => void {
  return hold(
    () => (everySecond += 1),
    () => (everySecond -= 1),
  );
}

/** Whether the clock's timer is set now (for tests). */
export function clockTicking(): boolean {
  return timer !== undefined;
}

/** When the clock's timer is due (Unix seconds), if it is set (for tests). */
export function clockDue(): number | undefined {
  return timerDue;
}
