//! [`PromptCallback`] for a shell with a window (the desktop app): each
//! prompt is handed to a hook (which shows it), and a PIN request waits
//! until the window answers with [`WindowPrompt::submit_pin`] or
//! [`WindowPrompt::cancel_pin`], at most [`PIN_WAIT`].
//!
//! Each PIN request has its own number: an answer must name the request it
//! answers, so a PIN typed for one ceremony can never reach a later one
//! (a dialog left open, a late click).

use super::{PinRequest, Prompt, PromptCallback};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How long a PIN request waits for the window before it cancels the
/// ceremony (keys give up on their own after about a minute anyway).
pub const PIN_WAIT: Duration = Duration::from_secs(120);

/// What the window is asked to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowPromptEvent {
    /// A prompt to show until the next one or the end of the operation
    /// (plug in, touch, working).
    Show(Prompt),
    /// Ask the key's PIN; answer with `id`.
    Pin {
        /// The number to answer with.
        id: u64,
        /// What to ask.
        request: PinRequest,
    },
}

type Hook = Arc<dyn Fn(WindowPromptEvent) + Send + Sync>;

#[derive(Default)]
struct State {
    /// The PIN request waiting for an answer, if any: its number and what
    /// it asks.
    waiting: Option<(u64, PinRequest)>,
    /// The last request number given out.
    last_id: u64,
    /// The answer to `waiting`: `Some(pin)`, or `None` when cancelled.
    answer: Option<Option<Zeroizing<String>>>,
    closed: bool,
}

/// The window's prompts for security keys.
pub struct WindowPrompt {
    state: Mutex<State>,
    changed: Condvar,
    hook: Mutex<Option<Hook>>,
    pin_wait: Duration,
}

impl fmt::Debug for WindowPrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowPrompt").field("waiting", &self.waiting()).finish_non_exhaustive()
    }
}

/// Why the window's answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinAnswerError {
    /// No PIN request with that number waits (it was answered, cancelled,
    /// timed out, or belongs to an operation that ended).
    #[error("no security key operation is waiting for this PIN any more")]
    NotWaiting,
    /// An empty PIN (keys refuse it; it is not sent).
    #[error("the PIN is empty")]
    Empty,
}

impl WindowPrompt {
    /// A prompt with no hook yet (prompts are dropped until
    /// [`WindowPrompt::on_event`]).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Self::with_pin_wait(PIN_WAIT)
    }

    /// The same, a PIN request waiting at most `pin_wait`.
    #[must_use]
    pub fn with_pin_wait(pin_wait: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            hook: Mutex::new(None),
            pin_wait,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Sets what shows the prompts (called from the blocking pool; must
    /// return at once).
    pub fn on_event(&self, hook: impl Fn(WindowPromptEvent) + Send + Sync + 'static) {
        if let Ok(mut slot) = self.hook.lock() {
            *slot = Some(Arc::new(hook));
        }
    }

    fn emit(&self, event: WindowPromptEvent) {
        let hook = self.hook.lock().ok().and_then(|h| h.clone());
        if let Some(hook) = hook {
            hook(event);
        }
    }

    /// The number of the PIN request waiting for an answer.
    #[must_use]
    pub fn waiting(&self) -> Option<u64> {
        self.lock().waiting.as_ref().map(|(id, _)| *id)
    }

    /// The PIN request waiting for an answer, as it was announced (for a
    /// window that was not there to receive it: a reloaded page).
    #[must_use]
    pub fn waiting_request(&self) -> Option<WindowPromptEvent> {
        let state = self.lock();
        let (id, request) = state.waiting.clone()?;
        (state.answer.is_none()).then_some(WindowPromptEvent::Pin { id, request })
    }

    /// Answers PIN request `id` with `pin`.
    ///
    /// # Errors
    /// [`PinAnswerError`]: nothing waits under `id`, or the PIN is empty
    /// (the request keeps waiting).
    pub fn submit_pin(&self, id: u64, pin: Zeroizing<String>) -> Result<(), PinAnswerError> {
        self.answer(id, Some(pin))
    }

    /// Cancels PIN request `id` (the ceremony fails as cancelled).
    ///
    /// # Errors
    /// [`PinAnswerError::NotWaiting`].
    pub fn cancel_pin(&self, id: u64) -> Result<(), PinAnswerError> {
        self.answer(id, None)
    }

    fn answer(&self, id: u64, pin: Option<Zeroizing<String>>) -> Result<(), PinAnswerError> {
        if pin.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(PinAnswerError::Empty);
        }
        let mut state = self.lock();
        if state.waiting.as_ref().map(|(waiting, _)| *waiting) != Some(id) || state.answer.is_some() {
            return Err(PinAnswerError::NotWaiting);
        }
        state.answer = Some(pin);
        drop(state);
        self.changed.notify_all();
        Ok(())
    }

    /// The app is closing: a waiting PIN request is cancelled, and later
    /// ones are at once.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

impl PromptCallback for WindowPrompt {
    fn show(&self, prompt: &Prompt) {
        self.emit(WindowPromptEvent::Show(prompt.clone()));
    }

    fn request_pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
        let id = {
            let mut state = self.lock();
            if state.closed {
                return None;
            }
            state.last_id += 1;
            state.waiting = Some((state.last_id, request.clone()));
            state.answer = None;
            state.last_id
        };
        self.emit(WindowPromptEvent::Pin { id, request: request.clone() });
        let deadline = Instant::now() + self.pin_wait;
        let mut state = self.lock();
        let answer = loop {
            if let Some(answer) = state.answer.take() {
                break answer;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.closed || left.is_zero() {
                break None;
            }
            state = match self.changed.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        state.waiting = None;
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webauthn::Purpose;

    fn request() -> PinRequest {
        PinRequest { purpose: Purpose::Approve { binding_message: "TRADE-4F7Q".into() }, retries_left: Some(8) }
    }

    /// Runs `request_pin` on a thread; returns the event it emitted and
    /// the join handle.
    fn ask(prompt: &Arc<WindowPrompt>) -> (u64, std::thread::JoinHandle<Option<Zeroizing<String>>>) {
        let (tx, rx) = std::sync::mpsc::channel();
        prompt.on_event(move |e| {
            let _ = tx.send(e);
        });
        let p = prompt.clone();
        let handle = std::thread::spawn(move || p.request_pin(&request()));
        match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            WindowPromptEvent::Pin { id, request: r } => {
                assert_eq!(r, request());
                (id, handle)
            }
            other => panic!("expected a PIN request, got {other:?}"),
        }
    }

    #[test]
    fn the_pin_answers_the_request_it_names_once() {
        let prompt = WindowPrompt::new();
        let (id, handle) = ask(&prompt);
        assert_eq!(prompt.waiting(), Some(id));
        assert_eq!(prompt.waiting_request(), Some(WindowPromptEvent::Pin { id, request: request() }));
        assert_eq!(prompt.submit_pin(id + 1, Zeroizing::new("1234".into())), Err(PinAnswerError::NotWaiting));
        assert_eq!(prompt.submit_pin(id, Zeroizing::new(String::new())), Err(PinAnswerError::Empty));
        prompt.submit_pin(id, Zeroizing::new("1234".into())).unwrap();
        assert_eq!(handle.join().unwrap().as_deref().map(String::as_str), Some("1234"));
        assert_eq!(prompt.waiting(), None);
        assert_eq!(prompt.waiting_request(), None);
        // A late second answer (double click) reaches nothing.
        assert_eq!(prompt.submit_pin(id, Zeroizing::new("1234".into())), Err(PinAnswerError::NotWaiting));
        // The next request has another number: the old one cannot answer it.
        let (next, handle) = ask(&prompt);
        assert_ne!(next, id);
        assert_eq!(prompt.submit_pin(id, Zeroizing::new("1234".into())), Err(PinAnswerError::NotWaiting));
        prompt.cancel_pin(next).unwrap();
        assert_eq!(handle.join().unwrap(), None);
    }

    #[test]
    fn an_unanswered_request_gives_up_and_closing_cancels() {
        let prompt = WindowPrompt::with_pin_wait(Duration::from_millis(50));
        let (id, handle) = ask(&prompt);
        assert_eq!(handle.join().unwrap(), None);
        assert_eq!(prompt.submit_pin(id, Zeroizing::new("1234".into())), Err(PinAnswerError::NotWaiting));

        let prompt = WindowPrompt::new();
        let (_, handle) = ask(&prompt);
        prompt.close();
        assert_eq!(handle.join().unwrap(), None);
        assert_eq!(prompt.request_pin(&request()), None, "closed: no more waiting");
    }

    #[test]
    fn prompts_reach_the_hook_and_debug_shows_no_pin() {
        let prompt = WindowPrompt::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        prompt.on_event(move |e| s.lock().unwrap().push(e));
        let touch = Prompt::Touch(Purpose::Register { name: "YubiKey".into() });
        prompt.show(&touch);
        assert_eq!(*seen.lock().unwrap(), [WindowPromptEvent::Show(touch)]);
        assert_eq!(format!("{prompt:?}"), "WindowPrompt { waiting: None, .. }");
    }
}
