//! Errors of the device model and the inventory backends.

/// A value that cannot describe a GPU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// A GPU UUID that is empty, longer than 128 characters or holds characters outside
    /// `A-Z a-z 0-9 . _ : -`.
    #[error("invalid GPU UUID {value:?}: expected 1-128 characters from A-Z a-z 0-9 . _ : -")]
    InvalidUuid {
        /// The rejected text.
        value: String,
    },
    /// A compute capability not of the form `major.minor`.
    #[error("invalid compute capability {value:?}: expected major.minor such as 8.9")]
    InvalidComputeCapability {
        /// The rejected text.
        value: String,
    },
}

/// Why an inventory backend found no devices or could not describe one.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The NVIDIA management library could not be loaded or initialised (no driver, no GPU,
    /// no permission). Expected on machines without NVIDIA hardware.
    #[error("NVML not available: {reason}")]
    NvmlUnavailable {
        /// NVML's own explanation.
        reason: String,
    },
    /// NVML loaded but a query about one device failed.
    #[error("NVML query {query} failed for GPU index {index}: {source}")]
    NvmlQuery {
        /// Which NVML call failed.
        query: &'static str,
        /// The device index asked about.
        index: u32,
        /// NVML's error.
        #[source]
        source: nvml_wrapper::error::NvmlError,
    },
    /// NVML returned a UUID the device model does not accept.
    #[error("NVML gave GPU index {index} an unusable UUID: {reason}")]
    NvmlUuid {
        /// The device index.
        index: u32,
        /// Why the UUID was refused.
        reason: DeviceError,
    },
    /// NVML counted devices but could not say how many.
    #[error("NVML could not count GPUs: {source}")]
    NvmlCount {
        /// NVML's error.
        #[source]
        source: nvml_wrapper::error::NvmlError,
    },
    /// Metal is absent (not an Apple target) or found no device.
    #[error("Metal not available: {reason}")]
    MetalUnavailable {
        /// What was missing.
        reason: String,
    },
    /// A declared inventory that is not valid JSON or YAML of the expected shape.
    #[error("{source_name}:{line}:{column}: {message}")]
    DeclaredSyntax {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// 1-based column of the problem (0 when unknown).
        column: usize,
        /// The parser's explanation.
        message: String,
    },
    /// A declared field whose value is invalid.
    #[error("{source_name}: {field}: {reason}")]
    DeclaredField {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// Path of the field, e.g. `gpus[2].compute_capability`.
        field: String,
        /// What is wrong with it.
        reason: DeviceError,
    },
    /// A declared field that must be positive is zero.
    #[error("{source_name}: {field}: must be greater than zero")]
    DeclaredZero {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// Path of the field.
        field: String,
    },
    /// A declaration holds more GPUs than [`crate::MAX_DECLARED_GPUS`].
    #[error(
        "{source_name}: {field}: declares more than {limit} GPUs in all, the most one host may have"
    )]
    DeclaredTooMany {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// Path of the `count` (or `uuids`) field that went past the limit.
        field: String,
        /// The limit.
        limit: u32,
    },
    /// `uuids` lists a different number of GPUs than `count`.
    #[error("{source_name}: {field}: lists {uuids} UUIDs but count is {count}")]
    DeclaredCountMismatch {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// Path of the `uuids` field.
        field: String,
        /// The declared count.
        count: u32,
        /// How many UUIDs were listed.
        uuids: usize,
    },
    /// A required field is missing for this vendor.
    #[error("{source_name}: {field}: required for {vendor} GPUs")]
    DeclaredMissing {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// Path of the missing field.
        field: String,
        /// The vendor that needs it.
        vendor: &'static str,
    },
    /// Two declared GPUs share a UUID.
    #[error("{source_name}: {field}: UUID {uuid} is declared twice")]
    DeclaredDuplicateUuid {
        /// File name (or other label) of the declaration.
        source_name: String,
        /// Path of the second occurrence.
        field: String,
        /// The repeated UUID.
        uuid: String,
    },
}
