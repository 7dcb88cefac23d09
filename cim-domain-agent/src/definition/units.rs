//! Resource limits as written in agent files: systemd-style `MemoryMax` (`8G`) and `CPUQuota`
//! (`300%`). Kept in their written form so generated units show what the user wrote.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a resource limit is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not `<digits>` optionally followed by `K`, `M`, `G` or `T`.
    #[error("memory limit {0:?} is not like `512M` or `8G` (digits, then K, M, G or T)")]
    Memory(String),
    /// Not `<digits>%` with a positive number.
    #[error("CPU quota {0:?} is not like `300%` (a positive whole number of percent)")]
    CpuQuota(String),
}

/// A memory limit such as `8G`: a whole number with an optional binary unit suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemoryMax {
    text: String,
    bytes: u64,
}

impl MemoryMax {
    /// Parses `512M`, `8G`, `1T` or a plain byte count.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let bad = || UnitError::Memory(text.to_owned());
        let (digits, shift) = match text.char_indices().last() {
            Some((i, 'K')) => (&text[..i], 10),
            Some((i, 'M')) => (&text[..i], 20),
            Some((i, 'G')) => (&text[..i], 30),
            Some((i, 'T')) => (&text[..i], 40),
            Some(_) => (text, 0),
            None => return Err(bad()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let number: u64 = digits.parse().map_err(|_| bad())?;
        let bytes = number.checked_mul(1u64 << shift).ok_or_else(bad)?;
        if bytes == 0 {
            return Err(bad());
        }
        Ok(Self {
            text: text.to_owned(),
            bytes,
        })
    }

    /// The limit in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The limit as written (`8G`), which is also valid for systemd's `MemoryMax=`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for MemoryMax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for MemoryMax {
    type Error = UnitError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MemoryMax> for String {
    fn from(value: MemoryMax) -> Self {
        value.text
    }
}

/// A CPU quota in percent of one core, as systemd's `CPUQuota=` takes it (`300%` = three cores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CpuQuota {
    percent: u32,
}

impl CpuQuota {
    /// Parses `300%`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let bad = || UnitError::CpuQuota(text.to_owned());
        let digits = text.strip_suffix('%').ok_or_else(bad)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let percent: u32 = digits.parse().map_err(|_| bad())?;
        if percent == 0 {
            return Err(bad());
        }
        Ok(Self { percent })
    }

    /// Percent of one core.
    pub fn percent(self) -> u32 {
        self.percent
    }
}

impl fmt::Display for CpuQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent)
    }
}

impl TryFrom<String> for CpuQuota {
    type Error = UnitError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CpuQuota> for String {
    fn from(value: CpuQuota) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_parse_with_units() -> Result<(), UnitError> {
        assert_eq!(MemoryMax::parse("8G")?.bytes(), 8 << 30);
        assert_eq!(MemoryMax::parse("512M")?.bytes(), 512 << 20);
        assert_eq!(MemoryMax::parse("4096")?.bytes(), 4096);
        for bad in ["", "G", "8 G", "8g", "-1G", "0", "8GB", "99999999999999T"] {
            assert!(MemoryMax::parse(bad).is_err(), "{bad:?} accepted");
        }
        Ok(())
    }

    #[test]
    fn cpu_quotas_are_positive_percentages() -> Result<(), UnitError> {
        assert_eq!(CpuQuota::parse("300%")?.percent(), 300);
        assert_eq!(CpuQuota::parse("50%")?.to_string(), "50%");
        for bad in ["", "%", "300", "0%", "1.5%", "-5%"] {
            assert!(CpuQuota::parse(bad).is_err(), "{bad:?} accepted");
        }
        Ok(())
    }
}
