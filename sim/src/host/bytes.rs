//! [`MsgBytes`]: the bytes of one IPMI message (a request or a response) as
//! the host model keeps them, without a heap allocation for the short ones.
//!
//! Every transaction of a run makes a request and a response that end up in
//! a [`Completion`](super::msghandler::Completion). Almost all of them are
//! short (Get Device ID: a 2-byte request, an 18-byte response), so they are
//! stored inline in the record itself; a longer one (up to the 272-byte
//! IPMI limit) goes to the heap as before. The type is as big as a `Vec<u8>`
//! (24 bytes), so no record grows.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

/// Bytes stored inline: as many as fit beside the length and the variant tag
/// in the 24 bytes of a `Vec<u8>` (the heap variant is a 16-byte
/// `Box<[u8]>`). Get Device ID's 18-byte response fits.
const INLINE: usize = 22;

/// The bytes of one IPMI message, `[NetFn/LUN, cmd, data…]` for a request
/// and `[NetFn/LUN, cmd, cc, data…]` for a response: a byte slice (it
/// dereferences to `[u8]`) that holds up to 22 bytes without allocating.
///
/// It compares equal to a slice, array or `Vec<u8>` with the same bytes and
/// prints (`{:?}`) like one.
///
/// ```
/// use bmc_sim::MsgBytes;
///
/// let rsp = MsgBytes::from(&[0x1c, 0x01, 0x00][..]);
/// assert_eq!(rsp, [0x1c, 0x01, 0x00]);
/// assert_eq!(rsp.get(2), Some(&0x00));
/// assert_eq!(format!("{rsp:?}"), "[28, 1, 0]");
/// ```
#[derive(Clone)]
pub struct MsgBytes(Repr);

#[derive(Clone)]
enum Repr {
    /// `buf[..len]`, `len <= INLINE` (the bytes past `len` mean nothing).
    Inline { len: u8, buf: [u8; INLINE] },
    /// Longer than [`INLINE`].
    Heap(Box<[u8]>),
}

// As big as the `Vec<u8>` it replaces: records keep their size.
const _: () = assert!(core::mem::size_of::<MsgBytes>() == core::mem::size_of::<Vec<u8>>());

impl MsgBytes {
    /// No bytes.
    pub const fn new() -> Self {
        Self(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }

    /// A copy of `bytes`.
    #[inline]
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::concat(&[], bytes)
    }

    /// `head` followed by `tail`, built in place (a request from its NetFn/LUN
    /// and command bytes and its data, with no intermediate buffer).
    #[inline]
    pub fn concat(head: &[u8], tail: &[u8]) -> Self {
        let len = head.len() + tail.len();
        if len <= INLINE {
            let mut buf = [0; INLINE];
            buf[..head.len()].copy_from_slice(head);
            // Most requests have no data: no copy call for nothing.
            if !tail.is_empty() {
                buf[head.len()..len].copy_from_slice(tail);
            }
            Self(Repr::Inline {
                len: len as u8,
                buf,
            })
        } else {
            let mut v = Vec::with_capacity(len);
            v.extend_from_slice(head);
            v.extend_from_slice(tail);
            Self(Repr::Heap(v.into_boxed_slice()))
        }
    }

    /// A copy of `buf[..n]` (`n` at most `buf.len()`), taken from a result
    /// buffer: when the buffer is longer than the inline room, the whole
    /// room is copied at once (a fixed-size copy, no call) and only the
    /// first `n` bytes count.
    #[inline]
    pub(crate) fn from_buf_prefix(buf: &[u8], n: usize) -> Self {
        match (buf.get(..INLINE), n <= INLINE) {
            (Some(room), true) => {
                let mut inline = [0; INLINE];
                inline.copy_from_slice(room);
                let b = Self(Repr::Inline {
                    len: n as u8,
                    buf: inline,
                });
                debug_assert_eq!(b.as_slice(), &buf[..n]);
                b
            }
            _ => Self::from_slice(buf.get(..n).unwrap_or(buf)),
        }
    }

    /// Make these bytes `buf[..n]`, as [`from_buf_prefix`](Self::from_buf_prefix)
    /// would, in place: a record filled where it lies, with no freshly built
    /// value moved into it (a move reads with wide loads what byte stores
    /// just wrote, and the CPU stalls on that).
    #[inline]
    pub(crate) fn set_from_buf_prefix(&mut self, buf: &[u8], n: usize) {
        match (&mut self.0, buf.get(..INLINE), n <= INLINE) {
            (Repr::Inline { len, buf: inline }, Some(room), true) => {
                inline.copy_from_slice(room);
                *len = n as u8;
            }
            _ => *self = Self::from_buf_prefix(buf, n),
        }
        debug_assert_eq!(Some(self.as_slice()), buf.get(..n));
    }

    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }
}

impl Default for MsgBytes {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for MsgBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for MsgBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for MsgBytes {
    fn from(bytes: &[u8]) -> Self {
        Self::from_slice(bytes)
    }
}

impl<const N: usize> From<[u8; N]> for MsgBytes {
    fn from(bytes: [u8; N]) -> Self {
        Self::from_slice(&bytes)
    }
}

impl From<Vec<u8>> for MsgBytes {
    /// Short vectors are copied inline; long ones keep their buffer.
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE {
            Self::from_slice(&v)
        } else {
            Self(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<MsgBytes> for Vec<u8> {
    fn from(b: MsgBytes) -> Self {
        match b.0 {
            Repr::Inline { .. } => b.to_vec(),
            Repr::Heap(h) => h.into_vec(),
        }
    }
}

impl fmt::Debug for MsgBytes {
    /// Like a `[u8]` (and a `Vec<u8>`): `[28, 1, 0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl PartialEq for MsgBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for MsgBytes {}

impl Hash for MsgBytes {
    /// Like a `[u8]`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq<[u8]> for MsgBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for MsgBytes {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for MsgBytes {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<u8>> for MsgBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<MsgBytes> for Vec<u8> {
    fn eq(&self, other: &MsgBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<MsgBytes> for [u8] {
    fn eq(&self, other: &MsgBytes) -> bool {
        self == other.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::{MsgBytes, INLINE};

    #[test]
    fn set_in_place_gives_what_a_fresh_copy_gives() {
        let buf: Vec<u8> = (0..272).map(|i| (i * 7) as u8).collect();
        // From every starting shape (empty, inline, heap) to every length,
        // short buffer (under the inline room) and long.
        for start in [0, 5, INLINE, INLINE + 3, 200] {
            for src in [&buf[..10], &buf[..]] {
                for n in [0, 1, 9, src.len().min(INLINE), src.len()] {
                    let mut b = MsgBytes::from_slice(&buf[..start]);
                    b.set_from_buf_prefix(src, n);
                    assert_eq!(b, MsgBytes::from_buf_prefix(src, n), "start {start} n {n}");
                    assert_eq!(b.as_slice(), &src[..n]);
                }
            }
        }
    }

    #[test]
    fn short_and_long_hold_their_bytes_and_compare_as_slices() {
        for n in [0, 1, 2, 18, INLINE, INLINE + 1, 272] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let a = MsgBytes::from_slice(&v);
            let b = MsgBytes::from(v.clone());
            let c = MsgBytes::concat(v.get(..n.min(2)).unwrap_or_default(), &v[n.min(2)..]);
            for x in [&a, &b, &c] {
                assert_eq!(x.as_slice(), v.as_slice());
                assert_eq!(*x, v);
                assert_eq!(format!("{x:?}"), format!("{v:?}"));
                assert_eq!(Vec::from(x.clone()), v);
            }
            let mut room = v.clone();
            room.resize(n.max(INLINE + 5), 0xAA);
            let d = MsgBytes::from_buf_prefix(&room, n);
            assert_eq!(d, v);
            assert_eq!(a, b);
            assert_eq!(b, c);
            assert_eq!(c, d);
        }
        assert_eq!(MsgBytes::new(), MsgBytes::default());
        assert!(MsgBytes::new().is_empty());
        assert_eq!(MsgBytes::from([0x1c, 0x01, 0xc0]), [0x1c, 0x01, 0xc0]);
        assert_ne!(MsgBytes::from([0x1c]), [0x1c, 0x01]);
    }
}
