//! GPU inventory and allocation (filled by the cim-gpu issue).
