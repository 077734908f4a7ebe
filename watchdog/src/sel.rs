//! The SEL event a watchdog logs: sensor type 0x23 "Watchdog 2", event/reading
//! type 0x6F (sensor-specific), IPMI v2.0 §42.2 Table 42-3 and the system
//! event record format of §32.1.

use crate::types::TimerAction;

/// Sensor type "Watchdog 2" (IPMI v2.0 Table 42-3).
pub const SENSOR_TYPE_WATCHDOG2: u8 = 0x23;
/// Event/reading type "sensor-specific" (IPMI v2.0 Table 42-1).
pub const EVENT_TYPE_SENSOR_SPECIFIC: u8 = 0x6F;
/// SEL record type "system event record" (IPMI v2.0 §32.1).
pub(crate) const RECORD_TYPE_SYSTEM_EVENT: u8 = 0x02;
/// Event message format revision for IPMI v1.5/v2.0 (§32.1).
pub(crate) const EVM_REV: u8 = 0x04;

/// Watchdog 2 sensor-specific offsets (IPMI v2.0 Table 42-3, sensor type 0x23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum WatchdogOffset {
    /// 0x00: timer expired, status only (no action).
    TimerExpired = 0x00,
    /// 0x01: hard reset.
    HardReset = 0x01,
    /// 0x02: power down.
    PowerDown = 0x02,
    /// 0x03: power cycle.
    PowerCycle = 0x03,
    /// 0x08: timer interrupt (the pre-timeout interrupt fired).
    TimerInterrupt = 0x08,
}

impl WatchdogOffset {
    /// The offset logged when the timer expires with `action`.
    pub const fn for_action(action: TimerAction) -> Self {
        match action {
            TimerAction::None => Self::TimerExpired,
            TimerAction::HardReset => Self::HardReset,
            TimerAction::PowerDown => Self::PowerDown,
            TimerAction::PowerCycle => Self::PowerCycle,
        }
    }

    /// The 4-bit offset.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// Spec description (what `ipmitool sel list` prints for it).
    pub const fn description(self) -> &'static str {
        match self {
            Self::TimerExpired => "Timer expired, status only",
            Self::HardReset => "Hard reset",
            Self::PowerDown => "Power down",
            Self::PowerCycle => "Power cycle",
            Self::TimerInterrupt => "Timer interrupt",
        }
    }
}

/// A Watchdog 2 sensor event, ready to be put in the SEL (and in the event
/// message buffer) by the BMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelEvent {
    /// The sensor-specific offset.
    pub offset: WatchdogOffset,
    /// Event Data 1–3 exactly as this profile writes them. Spec/QEMU/lanserv:
    /// ED1 = 0xC0 | offset (ED2 and ED3 hold sensor-specific extensions);
    /// phosphor-sel-logger: ED1 = offset.
    pub event_data: [u8; 3],
}

impl SelEvent {
    /// The 16-byte system event record (IPMI v2.0 §32.1): record ID, type
    /// 0x02, timestamp, generator ID (BMC: slave address 0x20, LUN 0,
    /// channel 0 → `0x0020`), EvM rev 0x04, sensor type 0x23, `sensor_number`,
    /// event dir/type 0x6F (assertion), event data 1–3. Multi-byte fields are
    /// little-endian.
    pub const fn record(
        &self,
        record_id: u16,
        timestamp: u32,
        generator_id: u16,
        sensor_number: u8,
    ) -> [u8; 16] {
        let id = record_id.to_le_bytes();
        let ts = timestamp.to_le_bytes();
        let gen = generator_id.to_le_bytes();
        [
            id[0],
            id[1],
            RECORD_TYPE_SYSTEM_EVENT,
            ts[0],
            ts[1],
            ts[2],
            ts[3],
            gen[0],
            gen[1],
            EVM_REV,
            SENSOR_TYPE_WATCHDOG2,
            sensor_number,
            EVENT_TYPE_SENSOR_SPECIFIC,
            self.event_data[0],
            self.event_data[1],
            self.event_data[2],
        ]
    }

    /// The 8-byte Platform Event Message body (IPMI v2.0 §29.3 "Platform Event
    /// Message" request without the generator ID): EvMRev, sensor type,
    /// sensor number, event dir/type, event data 1–3.
    pub const fn event_message(&self, sensor_number: u8) -> [u8; 7] {
        [
            EVM_REV,
            SENSOR_TYPE_WATCHDOG2,
            sensor_number,
            EVENT_TYPE_SENSOR_SPECIFIC,
            self.event_data[0],
            self.event_data[1],
            self.event_data[2],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout() {
        let ev = SelEvent {
            offset: WatchdogOffset::HardReset,
            event_data: [0xC1, 0x04, 0xFF],
        };
        let r = ev.record(0x0102, 0x0A0B0C0D, 0x0020, 0);
        assert_eq!(
            r,
            [
                0x02, 0x01, 0x02, 0x0D, 0x0C, 0x0B, 0x0A, 0x20, 0x00, 0x04, 0x23, 0x00, 0x6F, 0xC1,
                0x04, 0xFF
            ]
        );
        assert_eq!(ev.event_message(3), [0x04, 0x23, 3, 0x6F, 0xC1, 0x04, 0xFF]);
        assert_eq!(
            WatchdogOffset::for_action(TimerAction::PowerCycle).bits(),
            3
        );
        assert_eq!(
            WatchdogOffset::for_action(TimerAction::None),
            WatchdogOffset::TimerExpired
        );
        assert_eq!(WatchdogOffset::TimerInterrupt.bits(), 8);
        assert_eq!(
            WatchdogOffset::TimerInterrupt.description(),
            "Timer interrupt"
        );
    }
}
