//! Statistics over probe records.
