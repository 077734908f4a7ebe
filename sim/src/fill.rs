//! Appending a record by filling a placeholder where it lies.
//!
//! The records every simulated transaction appends (trace events, completion
//! records, queued and delivered messages) used to be built on the stack and
//! moved into their vector or queue. A record built with narrow stores (a tag
//! byte, a state byte, a length byte) and moved at once with 16-byte loads
//! cannot be forwarded from those stores: the CPU waits until they reach the
//! cache, several times a transaction, and instruction counts do not show it
//! (`perf record -e cpu-clock` does; README, Performance). Appending a
//! constant placeholder and then writing the fields into the slot turns the
//! move into plain stores.

use std::collections::VecDeque;

/// A list that can append a placeholder and hand back its slot to fill.
///
/// The slot is returned rather than filled by a closure: a closure that
/// takes owned values (a message's bytes) carries them in its environment,
/// one more copy of the kind this module avoids.
pub(crate) trait PushSlot<T> {
    /// Append `blank` and return it, to be filled field by field where it
    /// lies (see the module documentation for why not `push(record)`).
    fn push_slot(&mut self, blank: T) -> &mut T;
}

impl<T> PushSlot<T> for Vec<T> {
    #[inline(always)]
    fn push_slot(&mut self, blank: T) -> &mut T {
        self.push(blank);
        match self.last_mut() {
            Some(slot) => slot,
            None => unreachable!("a list is not empty after a push"),
        }
    }
}

impl<T> PushSlot<T> for VecDeque<T> {
    #[inline(always)]
    fn push_slot(&mut self, blank: T) -> &mut T {
        self.push_back(blank);
        match self.back_mut() {
            Some(slot) => slot,
            None => unreachable!("a queue is not empty after a push"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PushSlot;
    use std::collections::VecDeque;

    #[test]
    fn the_slot_is_the_record_just_appended() {
        let mut v = vec![(1, 'a')];
        *v.push_slot((0, ' ')) = (2, 'b');
        assert_eq!(v, [(1, 'a'), (2, 'b')]);
        let mut q = VecDeque::from([(1, 'a')]);
        q.push_slot((0, ' ')).1 = 'c';
        assert_eq!(q, [(1, 'a'), (0, 'c')]);
    }
}
