//! A minimal System Event Log (IPMI v2.0 §31): enough for the watchdog's
//! "Watchdog 2" events to be listed and read back the way `ipmitool sel`
//! and the kernel's tools do it.
//!
//! Supported: Get SEL Info (0x40), Reserve SEL (0x42), Get SEL Entry (0x43,
//! including partial reads with a reservation), Clear SEL (0x47), Get SEL Time
//! (0x48). Records are the 16-byte system event records of §32.1. When the
//! log is full new events are dropped (no overwrite), as §31.2's
//! "overflow" flag describes.

use ipmi_bt_sm::CompletionCode;

use super::Response;

/// Size of one SEL record (IPMI v2.0 §32.1).
pub(crate) const SEL_RECORD_LEN: usize = 16;
/// SEL version reported by Get SEL Info: 0x51 = IPMI 1.5/2.0 (§31.2).
pub(crate) const SEL_VERSION: u8 = 0x51;

/// The log.
#[derive(Debug, Clone, Default)]
pub struct Sel {
    entries: Vec<[u8; SEL_RECORD_LEN]>,
    capacity: u16,
    next_id: u16,
    reservation: u16,
    last_add: u32,
    last_erase: u32,
    overflow: bool,
}

impl Sel {
    /// An empty log holding at most `capacity` records.
    pub fn new(capacity: u16) -> Self {
        Self {
            entries: Vec::new(),
            capacity,
            next_id: 1,
            reservation: 0,
            last_add: 0xFFFF_FFFF,
            last_erase: 0xFFFF_FFFF,
            overflow: false,
        }
    }

    /// The records, oldest first.
    pub fn entries(&self) -> &[[u8; SEL_RECORD_LEN]] {
        &self.entries
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add a record built by `make(record_id)` at `timestamp`. Returns the
    /// record ID, or `None` if the log is full.
    pub fn add(
        &mut self,
        timestamp: u32,
        make: impl FnOnce(u16) -> [u8; SEL_RECORD_LEN],
    ) -> Option<u16> {
        if self.entries.len() >= usize::from(self.capacity) {
            self.overflow = true;
            return None;
        }
        let id = self.next_id;
        self.next_id = match self.next_id.wrapping_add(1) {
            0 | 0xFFFF => 1,
            n => n,
        };
        self.entries.push(make(id));
        self.last_add = timestamp;
        Some(id)
    }

    fn find(&self, record_id: u16) -> Option<usize> {
        match record_id {
            0x0000 => (!self.entries.is_empty()).then_some(0),
            0xFFFF => self.entries.len().checked_sub(1),
            id => self
                .entries
                .iter()
                .position(|r| u16::from_le_bytes([r[0], r[1]]) == id),
        }
    }

    /// Get SEL Info (Storage 0x40) response.
    pub fn info(&self) -> Response {
        let n = (self.entries.len() as u16).to_le_bytes();
        let free_records = usize::from(self.capacity).saturating_sub(self.entries.len());
        let free = u16::try_from(free_records * SEL_RECORD_LEN)
            .unwrap_or(0xFFFE)
            .min(0xFFFE)
            .to_le_bytes();
        let a = self.last_add.to_le_bytes();
        let e = self.last_erase.to_le_bytes();
        // Operation support: bit 7 overflow, bit 1 Reserve SEL supported.
        let ops = 0x02 | if self.overflow { 0x80 } else { 0 };
        Response::with_data(
            CompletionCode::OK,
            &[
                SEL_VERSION,
                n[0],
                n[1],
                free[0],
                free[1],
                a[0],
                a[1],
                a[2],
                a[3],
                e[0],
                e[1],
                e[2],
                e[3],
                ops,
            ],
        )
    }

    /// Reserve SEL (Storage 0x42): a new reservation ID (never 0), cancelling
    /// the previous one.
    pub fn reserve(&mut self) -> Response {
        self.reservation = match self.reservation.wrapping_add(1) {
            0 => 1,
            n => n,
        };
        Response::with_data(CompletionCode::OK, &self.reservation.to_le_bytes())
    }

    /// Get SEL Entry (Storage 0x43). Request: reservation ID (2, checked only
    /// for partial reads, offset ≠ 0, as §31.5 allows), record ID (2; 0x0000
    /// first, 0xFFFF last), offset, bytes to read (0xFF = whole record).
    pub fn get_entry(&self, data: &[u8]) -> Response {
        let [r0, r1, i0, i1, offset, count] = match data {
            [a, b, c, d, e, f] => [*a, *b, *c, *d, *e, *f],
            _ => return Response::new(CompletionCode::REQUEST_DATA_LENGTH_INVALID),
        };
        let offset = usize::from(offset);
        if offset != 0
            && (u16::from_le_bytes([r0, r1]) != self.reservation || self.reservation == 0)
        {
            return Response::new(CompletionCode::INVALID_RESERVATION);
        }
        let Some(idx) = self.find(u16::from_le_bytes([i0, i1])) else {
            return Response::new(CompletionCode::NOT_PRESENT);
        };
        let Some(rec) = self.entries.get(idx) else {
            return Response::new(CompletionCode::NOT_PRESENT);
        };
        if offset >= SEL_RECORD_LEN {
            return Response::new(CompletionCode::PARAMETER_OUT_OF_RANGE);
        }
        let end = if count == 0xFF {
            SEL_RECORD_LEN
        } else {
            offset + usize::from(count)
        };
        if end > SEL_RECORD_LEN {
            return Response::new(CompletionCode::CANNOT_RETURN_BYTES);
        }
        let next = match self.entries.get(idx + 1) {
            Some(r) => [r[0], r[1]],
            None => [0xFF, 0xFF],
        };
        let mut rsp = Response::with_data(CompletionCode::OK, &next);
        rsp.extend(rec.get(offset..end).unwrap_or(&[]));
        rsp
    }

    /// Clear SEL (Storage 0x47). Request: reservation ID (2), 'C' 'L' 'R',
    /// 0xAA (initiate) or 0x00 (get status). Response: erasure progress
    /// (0x01 = completed).
    pub fn clear(&mut self, data: &[u8], timestamp: u32) -> Response {
        let [r0, r1, c, l, r, action] = match data {
            [a, b, c, d, e, f] => [*a, *b, *c, *d, *e, *f],
            _ => return Response::new(CompletionCode::REQUEST_DATA_LENGTH_INVALID),
        };
        if u16::from_le_bytes([r0, r1]) != self.reservation || self.reservation == 0 {
            return Response::new(CompletionCode::INVALID_RESERVATION);
        }
        if [c, l, r] != *b"CLR" {
            return Response::new(CompletionCode::INVALID_DATA_FIELD);
        }
        match action {
            0xAA => {
                self.entries.clear();
                self.overflow = false;
                self.last_erase = timestamp;
                // A clear cancels the reservation (§31.4).
                self.reservation = self.reservation.wrapping_add(1).max(1);
                Response::with_data(CompletionCode::OK, &[0x01])
            }
            0x00 => Response::with_data(CompletionCode::OK, &[0x01]),
            _ => Response::new(CompletionCode::INVALID_DATA_FIELD),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u16, tag: u8) -> [u8; 16] {
        let b = id.to_le_bytes();
        [
            b[0], b[1], 2, 0, 0, 0, 0, 0x20, 0, 4, 0x23, 0, 0x6F, 0xC1, tag, 0xFF,
        ]
    }

    #[test]
    fn add_and_info() {
        let mut s = Sel::new(2);
        assert_eq!(s.info().data()[1..3], [0, 0]);
        assert_eq!(s.add(100, |id| rec(id, 1)), Some(1));
        assert_eq!(s.add(101, |id| rec(id, 2)), Some(2));
        assert_eq!(s.add(102, |id| rec(id, 3)), None, "full");
        let i = s.info();
        assert_eq!(i.cc, CompletionCode::OK);
        assert_eq!(i.data().len(), 14);
        assert_eq!(i.data()[0], SEL_VERSION);
        assert_eq!(i.data()[1..3], [2, 0]);
        assert_eq!(i.data()[3..5], [0, 0], "no free space");
        assert_eq!(i.data()[5..9], 101u32.to_le_bytes());
        assert_eq!(i.data()[13] & 0x80, 0x80, "overflow flagged");
    }

    #[test]
    fn get_entry_first_last_next_and_partial() {
        let mut s = Sel::new(10);
        s.add(1, |id| rec(id, 0xA));
        s.add(2, |id| rec(id, 0xB));
        let r = s.get_entry(&[0, 0, 0, 0, 0, 0xFF]);
        assert_eq!(r.cc, CompletionCode::OK);
        assert_eq!(r.data()[..2], [2, 0], "next is record 2");
        assert_eq!(r.data()[2..], rec(1, 0xA));
        let r = s.get_entry(&[0, 0, 0xFF, 0xFF, 0, 0xFF]);
        assert_eq!(r.data()[..2], [0xFF, 0xFF], "last record");
        assert_eq!(r.data()[2 + 14], 0xB);
        assert_eq!(
            s.get_entry(&[0, 0, 9, 0, 0, 0xFF]).cc,
            CompletionCode::NOT_PRESENT
        );
        assert_eq!(
            s.get_entry(&[0, 0, 1, 0]).cc,
            CompletionCode::REQUEST_DATA_LENGTH_INVALID
        );
        // Partial read needs the reservation.
        assert_eq!(
            s.get_entry(&[0, 0, 1, 0, 4, 2]).cc,
            CompletionCode::INVALID_RESERVATION
        );
        let res = s.reserve();
        let id = [res.data()[0], res.data()[1]];
        let r = s.get_entry(&[id[0], id[1], 1, 0, 14, 2]);
        assert_eq!(r.cc, CompletionCode::OK);
        assert_eq!(r.data()[2..], [0xA, 0xFF]);
        assert_eq!(
            s.get_entry(&[id[0], id[1], 1, 0, 14, 3]).cc,
            CompletionCode::CANNOT_RETURN_BYTES
        );
        assert_eq!(
            s.get_entry(&[id[0], id[1], 1, 0, 16, 1]).cc,
            CompletionCode::PARAMETER_OUT_OF_RANGE
        );
    }

    #[test]
    fn empty_log_has_no_first_record() {
        let s = Sel::new(4);
        assert_eq!(
            s.get_entry(&[0, 0, 0, 0, 0, 0xFF]).cc,
            CompletionCode::NOT_PRESENT
        );
        assert_eq!(
            s.get_entry(&[0, 0, 0xFF, 0xFF, 0, 0xFF]).cc,
            CompletionCode::NOT_PRESENT
        );
    }

    #[test]
    fn clear_needs_reservation_and_clr() {
        let mut s = Sel::new(4);
        s.add(1, |id| rec(id, 1));
        assert_eq!(
            s.clear(&[0, 0, b'C', b'L', b'R', 0xAA], 5).cc,
            CompletionCode::INVALID_RESERVATION
        );
        let res = s.reserve();
        let (a, b) = (res.data()[0], res.data()[1]);
        assert_eq!(
            s.clear(&[a, b, b'C', b'L', b'X', 0xAA], 5).cc,
            CompletionCode::INVALID_DATA_FIELD
        );
        let r = s.clear(&[a, b, b'C', b'L', b'R', 0xAA], 5);
        assert_eq!((r.cc, r.data()), (CompletionCode::OK, &[1u8][..]));
        assert!(s.is_empty());
        assert_eq!(s.info().data()[9..13], 5u32.to_le_bytes());
        assert_eq!(
            s.clear(&[a, b, b'C', b'L', b'R', 0x00], 6).cc,
            CompletionCode::INVALID_RESERVATION,
            "cancelled"
        );
    }

    #[test]
    fn reservation_ids_are_never_zero() {
        let mut s = Sel::new(1);
        s.reservation = 0xFFFF;
        let r = s.reserve();
        assert_eq!(r.data(), &[1, 0]);
    }
}
