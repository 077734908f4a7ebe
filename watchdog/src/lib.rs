//! IPMI BMC watchdog timer (IPMI v2.0 §27): timer model and command codecs.
