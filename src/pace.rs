//! The one rule for waiting on something that is not ready yet: look, and if it is not ready,
//! sleep until the next look or the deadline, whichever comes first. Every wait in fixer goes
//! through here, so none can outlive its bound and none oversleeps its deadline.

use std::time::{Duration, Instant};

/// A bounded series of looks. Pauses start at `first` and double up to `max` (a fixed pace when
/// both are equal), so a quick answer is seen quickly and a slow one is not polled in a busy loop.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    deadline: Instant,
    pause: Duration,
    max: Duration,
}

impl Pace {
    /// Looks every `every` until `within` has passed.
    pub(crate) fn every(every: Duration, within: Duration) -> Self {
        Self::backoff(every, every, within)
    }

    /// Looks after `first`, then after twice as long each time, never longer than `max`.
    pub(crate) fn backoff(first: Duration, max: Duration, within: Duration) -> Self {
        Self::until(first, max, Instant::now() + within)
    }

    /// As `backoff`, for a deadline shared with other work (one timeout for a whole exchange).
    pub(crate) fn until(first: Duration, max: Duration, deadline: Instant) -> Self {
        Self {
            deadline,
            pause: first,
            max: max.max(first),
        }
    }

    pub(crate) fn passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Sleeps before the next look. False, without sleeping, once the deadline has passed: the
    /// caller has had its last look and gives up.
    pub(crate) fn wait(&mut self) -> bool {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(self.pause.min(left));
        self.pause = (self.pause * 2).min(self.max);
        true
    }
}

/// Looks at `ready` every `every` until it holds (true) or `within` passes (false). `give_up`
/// ends the wait early, e.g. when the operator pressed Ctrl-C.
pub(crate) fn until(
    every: Duration,
    within: Duration,
    mut give_up: impl FnMut() -> bool,
    mut ready: impl FnMut() -> bool,
) -> bool {
    let mut pace = Pace::every(every, within);
    loop {
        if ready() {
            return true;
        }
        if give_up() || !pace.wait() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_look_comes_at_the_deadline_and_no_later() {
        let mut looks = 0;
        let started = Instant::now();
        let ok = until(
            Duration::from_millis(5),
            Duration::from_millis(30),
            || false,
            || {
                looks += 1;
                false
            },
        );
        assert!(!ok);
        assert!(looks >= 2, "looked {looks} times");
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_ready_thing_is_seen_on_the_first_look() {
        assert!(until(
            Duration::from_secs(10),
            Duration::from_secs(10),
            || false,
            || true
        ));
    }

    #[test]
    fn giving_up_ends_the_wait_at_once() {
        let mut looks = 0;
        let ok = until(
            Duration::from_secs(10),
            Duration::from_secs(60),
            || true,
            || {
                looks += 1;
                false
            },
        );
        assert!(!ok);
        assert_eq!(looks, 1);
    }

    #[test]
    fn pauses_double_up_to_the_cap() {
        let mut pace = Pace::backoff(
            Duration::from_millis(1),
            Duration::from_millis(4),
            Duration::from_secs(1),
        );
        let pauses: Vec<Duration> = (0..4)
            .map(|_| {
                let p = pace.pause;
                pace.wait();
                p
            })
            .collect();
        let ms = Duration::from_millis;
        assert_eq!(pauses, vec![ms(1), ms(2), ms(4), ms(4)]);
    }

    #[test]
    fn a_passed_deadline_does_not_sleep() {
        let mut pace = Pace::until(
            Duration::from_secs(60),
            Duration::from_secs(60),
            Instant::now(),
        );
        let started = Instant::now();
        assert!(!pace.wait());
        assert!(pace.passed());
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "slept the pause"
        );
    }
}
