//! Network functions (IPMI v2.0 §5.1, Table 5-1 "Network Function Codes") and
//! the NetFn/LUN byte of the system-interface frames (§9.2 for KCS, §11.2 for
//! BT: `netfn << 2 | lun`).

/// A standard network function. Each has an even request value and the odd
/// response value after it (§5.1); the OEM and group-extension ranges
/// (0x2C–0x3F) are not modelled by this workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetFn {
    /// Chassis device requests and responses (0x00/0x01; §28).
    Chassis,
    /// Bridge requests and responses (0x02/0x03; ICMB).
    Bridge,
    /// Sensor and event requests and responses (0x04/0x05; §29, §35).
    SensorEvent,
    /// Application requests and responses (0x06/0x07; §20–§27).
    App,
    /// Firmware transfer requests and responses (0x08/0x09).
    Firmware,
    /// Non-volatile storage requests and responses (0x0A/0x0B; §31–§34).
    Storage,
    /// Media-specific configuration and operation (0x0C/0x0D; §23–§26).
    Transport,
}

/// Chassis request NetFn (0x00).
pub const NETFN_CHASSIS: u8 = NetFn::Chassis.request();
/// Bridge request NetFn (0x02).
pub const NETFN_BRIDGE: u8 = NetFn::Bridge.request();
/// Sensor/Event request NetFn (0x04).
pub const NETFN_SENSOR_EVENT: u8 = NetFn::SensorEvent.request();
/// App request NetFn (0x06); responses use 0x07. The watchdog and message
/// commands live here.
pub const NETFN_APP: u8 = NetFn::App.request();
/// Firmware request NetFn (0x08).
pub const NETFN_FIRMWARE: u8 = NetFn::Firmware.request();
/// Storage request NetFn (0x0A); the SEL commands live here.
pub const NETFN_STORAGE: u8 = NetFn::Storage.request();
/// Transport request NetFn (0x0C).
pub const NETFN_TRANSPORT: u8 = NetFn::Transport.request();

impl NetFn {
    /// Every standard network function, in value order.
    pub const ALL: [NetFn; 7] = [
        NetFn::Chassis,
        NetFn::Bridge,
        NetFn::SensorEvent,
        NetFn::App,
        NetFn::Firmware,
        NetFn::Storage,
        NetFn::Transport,
    ];

    /// The request value (even).
    pub const fn request(self) -> u8 {
        match self {
            NetFn::Chassis => 0x00,
            NetFn::Bridge => 0x02,
            NetFn::SensorEvent => 0x04,
            NetFn::App => 0x06,
            NetFn::Firmware => 0x08,
            NetFn::Storage => 0x0A,
            NetFn::Transport => 0x0C,
        }
    }

    /// The response value (odd: the request value with bit 0 set).
    pub const fn response(self) -> u8 {
        self.request() | 1
    }

    /// The network function of a request or response value; `None` for the
    /// reserved, group-extension and OEM values (0x0E–0x3F) and for values
    /// that do not fit in 6 bits.
    pub const fn from_value(value: u8) -> Option<Self> {
        match value & !1 {
            0x00 => Some(NetFn::Chassis),
            0x02 => Some(NetFn::Bridge),
            0x04 => Some(NetFn::SensorEvent),
            0x06 => Some(NetFn::App),
            0x08 => Some(NetFn::Firmware),
            0x0A => Some(NetFn::Storage),
            0x0C => Some(NetFn::Transport),
            _ => None,
        }
    }

    /// True when `value` is a response NetFn (odd), §5.1.
    pub const fn is_response_value(value: u8) -> bool {
        value & 1 == 1
    }

    /// The spec's name in Table 5-1 ("App", "Storage", …).
    pub const fn name(self) -> &'static str {
        match self {
            NetFn::Chassis => "Chassis",
            NetFn::Bridge => "Bridge",
            NetFn::SensorEvent => "Sensor/Event",
            NetFn::App => "App",
            NetFn::Firmware => "Firmware",
            NetFn::Storage => "Storage",
            NetFn::Transport => "Transport",
        }
    }

    /// The NetFn/LUN byte of a request to `lun` (only its low two bits count):
    /// `request << 2 | lun`, as the BT frame carries it (§11.2).
    pub const fn netfn_lun(self, lun: u8) -> u8 {
        pack_netfn_lun(self.request(), lun)
    }
}

/// The NetFn/LUN byte: `netfn << 2 | (lun & 3)`. A `netfn` above 0x3F loses
/// its top bits, as the 6-bit field does; callers that take a NetFn from a
/// user check the range first.
pub const fn pack_netfn_lun(netfn: u8, lun: u8) -> u8 {
    (netfn << 2) | (lun & 0x03)
}

/// Splits a NetFn/LUN byte into `(netfn, lun)`.
pub const fn split_netfn_lun(byte: u8) -> (u8, u8) {
    (byte >> 2, byte & 0x03)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_table_5_1() {
        let want = [0x00, 0x02, 0x04, 0x06, 0x08, 0x0A, 0x0C];
        for (nf, v) in NetFn::ALL.into_iter().zip(want) {
            assert_eq!(nf.request(), v, "{nf:?}");
            assert_eq!(nf.response(), v | 1, "{nf:?}");
            assert_eq!(NetFn::from_value(v), Some(nf));
            assert_eq!(NetFn::from_value(v | 1), Some(nf));
            assert!(!NetFn::is_response_value(v));
            assert!(NetFn::is_response_value(v | 1));
        }
        for v in 0x0E..=0xFF {
            assert_eq!(NetFn::from_value(v), None, "{v:#04x}");
        }
        assert_eq!(NETFN_APP, 0x06);
        assert_eq!(NETFN_STORAGE, 0x0A);
        assert_eq!(NetFn::SensorEvent.name(), "Sensor/Event");
    }

    #[test]
    fn netfn_lun_packing() {
        assert_eq!(NetFn::App.netfn_lun(0), 0x18);
        assert_eq!(NetFn::App.netfn_lun(3), 0x1B);
        assert_eq!(NetFn::App.netfn_lun(7), 0x1B, "only two LUN bits");
        assert_eq!(pack_netfn_lun(NetFn::Storage.response(), 2), 0x2E);
        for b in 0..=255u8 {
            let (nf, lun) = split_netfn_lun(b);
            assert_eq!(pack_netfn_lun(nf, lun), b);
        }
    }
}
