//! `[io.device]`: what the fault VFS tells SQLite about the storage (`xDeviceCharacteristics`,
//! `xSectorSize`), and how the simulated disk behaves in a power loss. SQLite chooses its
//! defences from the claim (a WAL padded to a sector boundary only where overwrites are not
//! power-safe, a header sync skipped on a sequential device); the power-loss model follows
//! the claim (`physics = "as-claimed"`) or tears whatever was claimed (`"torn-sectors"`):
//! a device that lies, whose damage the claim permits.

use serde::{Deserialize, Serialize};

/// The claims and the physics of the simulated device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// SQLITE_IOCAP_ATOMIC: every write is all or nothing.
    #[serde(default)]
    pub atomic: bool,
    /// SQLITE_IOCAP_SAFE_APPEND: a file grows only after the appended data is written.
    #[serde(default)]
    pub safe_append: bool,
    /// SQLITE_IOCAP_SEQUENTIAL: writes reach the disk in the order they were made.
    #[serde(default)]
    pub sequential: bool,
    /// SQLITE_IOCAP_POWERSAFE_OVERWRITE: a write torn by power loss never changes bytes
    /// outside the range written (what SQLite's unix VFS claims by default).
    #[serde(default = "yes")]
    pub powersafe_overwrite: bool,
    /// `xSectorSize`: the unit a torn write is torn in.
    #[serde(default = "default_sector")]
    pub sector_size: u32,
    #[serde(default)]
    pub physics: Physics,
}

fn yes() -> bool {
    true
}

fn default_sector() -> u32 {
    4096
}

/// How the disk behaves when power is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Physics {
    /// As the claim says: with `atomic`, an unsynced write is lost whole; without it, each
    /// sector of it survives or is lost (a seeded choice); without `powersafe_overwrite` a
    /// torn sector may also come back garbled whole, bytes outside the write included.
    #[default]
    AsClaimed,
    /// Whatever was claimed: not atomic and not power-safe (sectors torn and garbled).
    TornSectors,
}

impl Physics {
    pub fn name(self) -> &'static str {
        match self {
            Physics::AsClaimed => "as-claimed",
            Physics::TornSectors => "torn-sectors",
        }
    }
}

/// What a power loss does to unsynced writes on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tearing {
    pub sector_size: u64,
    /// A torn sector may come back as garbage, bytes outside the write included.
    pub garble: bool,
}

impl Device {
    /// How unsynced writes come apart; `None`: each is lost whole (atomic, as claimed).
    pub fn tearing(&self) -> Option<Tearing> {
        let (atomic, powersafe) = match self.physics {
            Physics::AsClaimed => (self.atomic, self.powersafe_overwrite),
            Physics::TornSectors => (false, false),
        };
        (!atomic).then_some(Tearing {
            sector_size: u64::from(self.sector_size),
            garble: !powersafe,
        })
    }

    /// The claim the physics break, if they break one (for the report's note).
    pub fn broken_claim(&self) -> Option<&'static str> {
        if self.physics != Physics::TornSectors {
            return None;
        }
        if self.atomic {
            Some("atomic")
        } else if self.powersafe_overwrite {
            Some("powersafe_overwrite")
        } else {
            None
        }
    }
}

/// Checks `[io.device]`.
pub fn validate(d: &Device) -> Result<(), super::Invalid> {
    if !(512..=65536).contains(&d.sector_size) || !d.sector_size.is_power_of_two() {
        return Err(super::Invalid::range(
            "io.device.sector_size",
            d.sector_size,
            "a power of two from 512 to 65536",
        ));
    }
    Ok(())
}
