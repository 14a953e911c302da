//! A value shared by every step of one diagnosis (the process table, the `nginx -T` dumps) and
//! gone when the diagnosis ends, so nothing outside the run — in particular an action that just
//! changed the system — ever reads it stale.

use std::sync::{Arc, RwLock};

pub struct RunSlot<T: 'static>(RwLock<Option<Arc<T>>>);

impl<T: 'static> RunSlot<T> {
    pub const fn new() -> Self {
        RunSlot(RwLock::new(None))
    }

    /// Fills the slot with `make()` until the guard is dropped. Nested installs share the
    /// outer value (and `make` is then not called).
    pub fn install(&'static self, make: impl FnOnce() -> T) -> Installed<T> {
        let Ok(mut slot) = self.0.write() else {
            return Installed(None);
        };
        if slot.is_some() {
            return Installed(None);
        }
        *slot = Some(Arc::new(make()));
        Installed(Some(self))
    }

    /// The value of the running diagnosis, if one is installed.
    pub fn get(&self) -> Option<Arc<T>> {
        self.0.read().ok()?.clone()
    }
}

/// Empties the slot when dropped, if this guard filled it.
pub struct Installed<T: 'static>(Option<&'static RunSlot<T>>);

impl<T: 'static> Drop for Installed<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.0 {
            if let Ok(mut v) = slot.0.write() {
                *v = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SLOT: RunSlot<u32> = RunSlot::new();

    #[test]
    fn nested_installs_share_the_outer_value_and_the_outer_guard_empties_it() {
        assert!(SLOT.get().is_none());
        let outer = SLOT.install(|| 1);
        {
            let _inner = SLOT.install(|| unreachable!("the outer value is shared"));
            assert_eq!(SLOT.get().as_deref(), Some(&1));
        }
        assert_eq!(SLOT.get().as_deref(), Some(&1));
        drop(outer);
        assert!(SLOT.get().is_none());
    }
}
